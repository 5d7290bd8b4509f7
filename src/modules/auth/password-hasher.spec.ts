import argon2 from 'argon2';
import { PasswordHasher } from './password-hasher.js';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();
  const nfc = 'p\u00e4ssword1';
  const nfd = 'pa\u0308ssword1';

  it('takes either Unicode form of the password it hashed', async () => {
    const hash = await hasher.hash(nfd);
    expect([await hasher.verify(hash, nfc), await hasher.verify(hash, nfd), await hasher.verify(hash, 'passwORD1')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('still takes the password as typed against a hash made before passwords were normalised', async () => {
    const legacy = await argon2.hash(nfd, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(await hasher.verify(legacy, nfd)).toBe(true);
  });
});
