/**
 * Token buckets in memory, one per key: each holds up to `capacity` tokens and refills at
 * `perSecond`; a request takes one. A key that has not been seen is a full bucket, so a bucket
 * that has refilled is the same as none and `sweep` forgets it: memory follows the keys active in
 * the last `capacity / perSecond` seconds.
 *
 * A refusal names a wait in whole seconds (what Retry-After can say), and the key is refused
 * until that wait is over, even if a token comes back a little earlier: a request made after a
 * refused one can never get in before the refused one's retry, which keeps a client's retried
 * sends in the order it made them.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
  ) {}

  /**
   * Takes `cost` tokens for `key` (at most `capacity`: a request bigger than the bucket must still
   * be possible once it is full). Undefined when taken; otherwise the whole seconds (≥ 1) to wait
   * before asking again.
   */
  take(key: string, now = Date.now(), cost = 1): number | undefined {
    const need = Math.min(cost, this.capacity);
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now, refusedUntil: 0 };
    if (bucket.refusedUntil > now) return Math.ceil((bucket.refusedUntil - now) / 1000);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < need) {
      const wait = Math.max(1, Math.ceil((need - bucket.tokens) / this.perSecond));
      bucket.refusedUntil = now + wait * 1000;
      return wait;
    }
    bucket.tokens -= need;
    this.buckets.set(key, bucket);
    return undefined;
  }

  /** Gives back a token taken for a request that turned out to cost nothing (a repeat answered from what was stored). */
  giveBack(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.capacity, bucket.tokens + 1);
  }

  /** Forgets the buckets that have refilled by `now`. */
  sweep(now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.refusedUntil <= now && bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.capacity)
        this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  /** Refused until then (ms): the end of the wait the last refusal named. */
  refusedUntil: number;
}
