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

  /**
   * Checks the NFC form, then the password as typed, for hashes made before passwords were
   * normalised. `outdated`: the password matched a hash that should be made again, because it is of
   * the password as typed or its parameters are not today's.
   */
  async verify(hash: string, password: string): Promise<{ matches: boolean; outdated: boolean }> {
    const nfc = password.normalize('NFC');
    if (await this.matches(hash, nfc)) return { matches: true, outdated: parametersOutdated(hash) };
    if (nfc !== password && (await this.matches(hash, password))) return { matches: true, outdated: true };
    return { matches: false, outdated: false };
  }

  /**
   * A stored value that is not an argon2 hash (an operator's `!` to lock an account, say) matches
   * nothing. Any other failure is thrown, not read as a wrong password: a hash that is damaged, or
   * argon2 itself failing, would otherwise turn every sign-in into INVALID_CREDENTIALS, unlogged.
   */
  private async matches(hash: string, password: string): Promise<boolean> {
    if (!hash.startsWith('$argon2')) return false;
    return argon2.verify(hash, password);
  }

  async burn(password: string): Promise<{ matches: false; outdated: false }> {
    await this.verify(await this.decoy, password);
    return { matches: false, outdated: false };
  }
}

function parametersOutdated(hash: string): boolean {
  try {
    // needsRehash compares the version and costs, not the variant (argon2i, argon2d).
    return !hash.startsWith('$argon2id$') || argon2.needsRehash(hash, OPTIONS);
  } catch {
    return false;
  }
}
