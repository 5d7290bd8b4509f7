/**
 * Token buckets in memory, one per key: each holds up to `capacity` tokens and refills at
 * `perSecond`; a request takes one. A key that has not been seen is a full bucket, so a bucket
 * that has refilled is the same as none and `sweep` forgets it: memory follows the keys active in
 * the last `capacity / perSecond` seconds.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
  ) {}

  /** Takes a token for `key`. Undefined when taken; otherwise the seconds until one is there (nothing taken). */
  take(key: string, now = Date.now()): number | undefined {
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return (1 - bucket.tokens) / this.perSecond;
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return undefined;
  }

  /** Forgets the buckets that have refilled by `now`. */
  sweep(now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.capacity) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
