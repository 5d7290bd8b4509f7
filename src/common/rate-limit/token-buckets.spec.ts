import { TokenBuckets } from './token-buckets.js';

describe('TokenBuckets', () => {
  it('lets a burst of `capacity` through, then one per 1/perSecond seconds, and says how long to wait', () => {
    const buckets = new TokenBuckets(3, 2);
    const t0 = 1_000_000;
    expect([buckets.take('a', t0), buckets.take('a', t0), buckets.take('a', t0)]).toEqual([undefined, undefined, undefined]);
    expect(buckets.take('a', t0)).toBeCloseTo(0.5);
    expect(buckets.take('a', t0 + 250)).toBeCloseTo(0.25); // half a token back: not yet
    expect(buckets.take('a', t0 + 500)).toBeUndefined();
    expect(buckets.take('a', t0 + 500)).toBeCloseTo(0.5);
  });

  it('keeps keys apart and never refills beyond capacity', () => {
    const buckets = new TokenBuckets(2, 1);
    const t0 = 5_000;
    buckets.take('a', t0);
    buckets.take('a', t0);
    expect(buckets.take('a', t0)).toBeDefined();
    expect(buckets.take('b', t0)).toBeUndefined();
    // An hour later 'a' holds 2 tokens, not 3600.
    const later = t0 + 3_600_000;
    expect([buckets.take('a', later), buckets.take('a', later)]).toEqual([undefined, undefined]);
    expect(buckets.take('a', later)).toBeDefined();
  });

  it('forgets buckets once they have refilled, and only those', () => {
    const buckets = new TokenBuckets(4, 2);
    const t0 = 10_000;
    buckets.take('idle', t0);
    for (let i = 0; i < 4; i++) buckets.take('busy', t0 + 1_000);
    buckets.sweep(t0 + 1_000);
    expect(buckets.size).toBe(1); // 'idle' got its token back after 0.5 s
    buckets.sweep(t0 + 2_999);
    expect(buckets.size).toBe(1);
    buckets.sweep(t0 + 3_000);
    expect(buckets.size).toBe(0);
    expect(buckets.take('busy', t0 + 3_000)).toBeUndefined();
  });
});
