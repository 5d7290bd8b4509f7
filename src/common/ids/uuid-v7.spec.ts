import { isUUID } from 'class-validator';
import { uuidV7 } from './uuid-v7.js';

describe('uuidV7', () => {
  it('is a version 7 UUID of the RFC variant, accepted wherever a UUID is', () => {
    for (let i = 0; i < 1_000; i++) {
      const id = uuidV7();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(isUUID(id)).toBe(true);
    }
  });

  it('carries the time in its first 48 bits, so later ids sort after earlier ones', () => {
    const at = Date.UTC(2026, 10, 22, 1, 2, 3, 456);
    expect(parseInt(uuidV7(at).replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const ids = [uuidV7(at), uuidV7(at + 1), uuidV7(at + 1_000), uuidV7(at + 86_400_000)];
    expect([...ids].sort()).toEqual(ids);
  });

  it('does not repeat within a millisecond (74 random bits)', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidV7(at)));
    expect(ids.size).toBe(10_000);
  });
});
