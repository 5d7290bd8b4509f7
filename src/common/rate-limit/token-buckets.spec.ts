import { TokenBuckets } from './token-buckets.js';

describe('TokenBuckets', () => {
  it('lets a burst of `capacity` through, then one per 1/perSecond seconds, and says how long to wait in whole seconds', () => {
    const buckets = new TokenBuckets(3, 0.5); // a token every 2 s
    const t0 = 1_000_000;
    expect([buckets.take('a', t0), buckets.take('a', t0), buckets.take('a', t0)]).toEqual([undefined, undefined, undefined]);
    expect(buckets.take('a', t0)).toBe(2);
    expect(buckets.take('a', t0 + 2_000)).toBeUndefined();
    expect(buckets.take('a', t0 + 2_000)).toBe(2);
  });

  it('refuses until the announced wait is over, even when a token came back earlier', () => {
    const buckets = new TokenBuckets(1, 4); // a token every 250 ms
    const t0 = 50_000;
    expect(buckets.take('a', t0)).toBeUndefined();
    expect(buckets.take('a', t0 + 100)).toBe(1); // a token was 150 ms away; Retry-After can only say 1 s
    expect(buckets.take('a', t0 + 400)).toBe(1); // the token is back, but the refused request was told 1 s
    expect(buckets.take('a', t0 + 1_099)).toBe(1);
    expect(buckets.take('a', t0 + 1_100)).toBeUndefined();
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

  it('takes a token given back as one never spent, up to capacity', () => {
    const buckets = new TokenBuckets(2, 0.001);
    const t0 = 9_000;
    buckets.take('a', t0);
    buckets.take('a', t0);
    buckets.giveBack('a');
    expect(buckets.take('a', t0)).toBeUndefined();
    buckets.giveBack('a');
    buckets.giveBack('a');
    buckets.giveBack('a');
    expect([buckets.take('a', t0), buckets.take('a', t0), buckets.take('a', t0)]).toEqual([undefined, undefined, expect.any(Number)]);
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
