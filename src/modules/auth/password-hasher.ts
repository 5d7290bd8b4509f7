import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): a few tens of milliseconds here.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

@Injectable()
export class PasswordHasher {
  /** Verified against when the email is unknown, so that answer costs what a wrong password costs. */
  private readonly decoy = argon2.hash(randomBytes(16).toString('hex'), OPTIONS);

  /**
   * Hashes the password's NFC form: "ä" typed as one character on one device and as a plus a
   * combining mark on another is one password (as NIST SP 800-63B asks).
   */
  hash(password: string): Promise<string> {
    return argon2.hash(password.normalize('NFC'), OPTIONS);
  }

  /** Checks the NFC form, then the password as typed, for hashes made before passwords were normalised. */
  async verify(hash: string, password: string): Promise<boolean> {
    const nfc = password.normalize('NFC');
    return (await this.matches(hash, nfc)) || (nfc !== password && (await this.matches(hash, password)));
  }

  private async matches(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  async burn(password: string): Promise<false> {
    await this.verify(await this.decoy, password);
    return false;
  }
}
