import { jest } from '@jest/globals';
import argon2 from 'argon2';
import { PasswordHasher } from './password-hasher.js';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();
  const nfc = 'p\u00e4ssword1';
  const nfd = 'pa\u0308ssword1';
  const todays = { matches: true, outdated: false };

  it('takes either Unicode form of the password it hashed', async () => {
    const hash = await hasher.hash(nfd);
    expect([await hasher.verify(hash, nfc), await hasher.verify(hash, nfd), await hasher.verify(hash, 'passwORD1')]).toEqual([
      todays,
      todays,
      { matches: false, outdated: false },
    ]);
  });

  it('still takes the password as typed against a hash made before passwords were normalised, and calls that hash outdated', async () => {
    const legacy = await argon2.hash(nfd, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(await hasher.verify(legacy, nfd)).toEqual({ matches: true, outdated: true });
    expect(await hasher.verify(legacy, nfc)).toEqual({ matches: false, outdated: false });
  });

  it("calls a hash of another argon2 variant outdated, though its parameters are today's", async () => {
    const argon2i = await argon2.hash(nfc, { type: argon2.argon2i, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(await hasher.verify(argon2i, nfc)).toEqual({ matches: true, outdated: true });
  });

  it('matches nothing against a stored value that is not an argon2 hash (an account locked by hand)', async () => {
    for (const locked of ['!', '', '*', 'plain-password1'])
      expect(await hasher.verify(locked, 'plain-password1')).toEqual({ matches: false, outdated: false });
  });

  it('throws when argon2 fails or the hash is damaged, rather than answering "wrong password"', async () => {
    const hash = await hasher.hash(nfc);
    await expect(hasher.verify(hash.replace(/\$[^$]*$/, '$!!'), nfc)).rejects.toThrow();
    const failing = jest.spyOn(argon2, 'verify').mockRejectedValueOnce(new Error('argon2 binding failed'));
    try {
      await expect(hasher.verify(hash, nfc)).rejects.toThrow('argon2 binding failed');
    } finally {
      failing.mockRestore();
    }
  });

  it('calls a hash made with other parameters outdated once the password matches it', async () => {
    const weak = await argon2.hash(nfc, { type: argon2.argon2id, memoryCost: 4_096, timeCost: 1, parallelism: 1 });
    expect(await hasher.verify(weak, nfc)).toEqual({ matches: true, outdated: true });
    expect(await hasher.verify(weak, 'passwORD1')).toEqual({ matches: false, outdated: false });
  });
});
