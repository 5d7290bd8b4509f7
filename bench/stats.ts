/**
 * A log-bucketed latency histogram (about 1% resolution from 1 µs to 1000 s, HdrHistogram's idea
 * in a few lines): millions of samples in a fixed 16 KB, mergeable across pairs, exact max.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 2;

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SerialisedHistogram {
  count: number;
  max: number;
  sum: number;
  buckets: string;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  /** Records a latency in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    const index = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
    this.counts[index]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** The latency (ms) at or below which `q` (0–1) of the samples lie; the bucket's upper edge, capped at max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, GROWTH ** i / 1000);
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      p50: round(this.quantile(0.5)),
      p95: round(this.quantile(0.95)),
      p99: round(this.quantile(0.99)),
      max: round(this.max),
      mean: round(this.count ? this.sum / this.count : NaN),
    };
  }

  /** Sparse form for JSON: "bucket:count" pairs of the non-empty buckets, space-separated. */
  toJSON(): SerialisedHistogram {
    const buckets: string[] = [];
    this.counts.forEach((c, i) => c > 0 && buckets.push(`${i}:${c}`));
    return { count: this.count, max: this.max, sum: this.sum, buckets: buckets.join(' ') };
  }

  static fromJSON(data: SerialisedHistogram): Histogram {
    const h = new Histogram();
    for (const pair of data.buckets.split(' ').filter(Boolean)) {
      const [i, c] = pair.split(':').map(Number);
      h.counts[i] = c;
    }
    h.count = data.count;
    h.max = data.max;
    h.sum = data.sum;
    return h;
  }

  /** Points of the percentile curve (HdrHistogram's "percentile distribution"): [quantile, ms]. */
  curve(): Array<[number, number]> {
    const points: Array<[number, number]> = [];
    if (this.count === 0) return points;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.counts[i] === 0) continue;
      seen += this.counts[i];
      points.push([seen / this.count, Math.min(this.max, GROWTH ** i / 1000)]);
    }
    return points;
  }
}

export function round(n: number, digits = 3): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median: round(median), min: round(v[0]), max: round(v[v.length - 1]) };
}
