/**
 * Deadlines by the second, for many items at once (token expiry of every socket): one interval
 * for all of them instead of a timer each. An item fires within a second after its deadline,
 * never before. Each item remembers its bucket in its own `expiryBucket`, so moving or
 * cancelling is cheap.
 */
export class ExpiryWheel<T extends { expiryBucket?: number }> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Buckets up to this second have been fired. */
  private firedUpTo: number;

  constructor(
    private readonly fire: (item: T) => void,
    now = Date.now(),
  ) {
    this.firedUpTo = Math.floor(now / 1000) - 1;
  }

  /** Files `item` to fire once `at` (epoch ms) has passed; replaces its previous deadline. */
  schedule(item: T, at: number): void {
    this.cancel(item);
    // Never into a bucket already fired: a deadline in the past fires on the next tick.
    const second = Math.max(Math.ceil(at / 1000), this.firedUpTo + 1);
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Set()));
    bucket.add(item);
    item.expiryBucket = second;
  }

  cancel(item: T): void {
    if (item.expiryBucket === undefined) return;
    const bucket = this.buckets.get(item.expiryBucket);
    bucket?.delete(item);
    if (bucket?.size === 0) this.buckets.delete(item.expiryBucket);
    item.expiryBucket = undefined;
  }

  /** Fires every item whose deadline has passed by `now`. Call it about once a second. */
  tick(now = Date.now()): void {
    const until = Math.floor(now / 1000);
    // After a long stall, walk only the buckets that exist rather than every second missed.
    const seconds =
      until - this.firedUpTo > this.buckets.size
        ? [...this.buckets.keys()].filter((s) => s <= until).sort((a, b) => a - b)
        : Array.from({ length: Math.max(0, until - this.firedUpTo) }, (_, i) => this.firedUpTo + 1 + i);
    this.firedUpTo = Math.max(this.firedUpTo, until);
    for (const second of seconds) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const item of bucket) {
        item.expiryBucket = undefined;
        this.fire(item);
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }
}
