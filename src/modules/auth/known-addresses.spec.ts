import { KnownAddressesInMemory } from './auth-rate-limiter.js';

describe('KnownAddressesInMemory', () => {
  it('knows an address for two weeks after its last sign-in, and forgets the longest unused past its capacity', async () => {
    let now = 0;
    const known = new KnownAddressesInMemory(3, () => now);
    for (const key of ['a', 'b', 'c']) await known.add(key);
    expect(await known.has('a')).toBe(true);
    await known.add('a'); // used again: now the most recent
    await known.add('d'); // one too many: b, the longest unused, goes
    expect([await known.has('a'), await known.has('b'), await known.has('c'), await known.has('d')]).toEqual([true, false, true, true]);
    now += 14 * 24 * 60 * 60 * 1000 - 1;
    expect(await known.has('d')).toBe(true);
    now += 1;
    expect(await known.has('d')).toBe(false);
  });
});
