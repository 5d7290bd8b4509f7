/**
 * A set of positive integers (a stream's delivered seqs) kept as sorted, disjoint runs
 * `[start, end]`. Seqs mostly arrive in order, so a connection that has been sent a million
 * messages of a chat holds one run: two numbers, not a million. Out-of-order arrivals open new
 * runs that merge once the gaps fill; past `maxRuns` runs the lowest is forgotten.
 */
export class SeqRanges {
  /** start0, end0, start1, end1, …: ascending, with at least one missing seq between runs. */
  private readonly runs: number[] = [];

  constructor(private readonly maxRuns = 64) {}

  /** The highest seq in the set, if any. */
  get last(): number | undefined {
    return this.runs.length > 0 ? this.runs[this.runs.length - 1] : undefined;
  }

  has(seq: number): boolean {
    // From the newest run down: seqs asked about are almost always recent.
    for (let i = this.runs.length - 2; i >= 0; i -= 2) {
      if (seq > this.runs[i + 1]) return false;
      if (seq >= this.runs[i]) return true;
    }
    return false;
  }

  add(seq: number): void {
    const runs = this.runs;
    const last = runs.length - 1;
    if (last > 0 && seq === runs[last] + 1) {
      runs[last] = seq; // the common case: the next seq in order
      return;
    }
    // The first run starting after seq; the run before it (if any) may contain or touch seq.
    let next = runs.length;
    while (next > 0 && runs[next - 2] > seq) next -= 2;
    const previous = next - 2;
    if (previous >= 0 && seq <= runs[previous + 1]) return; // already in
    const joinsPrevious = previous >= 0 && runs[previous + 1] + 1 === seq;
    const joinsNext = next < runs.length && runs[next] - 1 === seq;
    if (joinsPrevious && joinsNext) {
      runs[previous + 1] = runs[next + 1];
      runs.splice(next, 2);
    } else if (joinsPrevious) {
      runs[previous + 1] = seq;
    } else if (joinsNext) {
      runs[next] = seq;
    } else {
      runs.splice(next, 0, seq, seq);
      if (runs.length > this.maxRuns * 2) runs.splice(0, 2);
    }
  }

  /** Adds every seq from `start` to `end`, merging with the runs it touches. */
  addRun(start: number, end: number): void {
    if (end < start) return;
    const merged: number[] = [];
    let pending: [number, number] | undefined = [start, end];
    for (let i = 0; i < this.runs.length; i += 2) {
      const [s, e] = [this.runs[i], this.runs[i + 1]];
      if (pending && e < pending[0] - 1) merged.push(s, e);
      else if (pending && s > pending[1] + 1) {
        merged.push(pending[0], pending[1], s, e);
        pending = undefined;
      } else if (pending) pending = [Math.min(s, pending[0]), Math.max(e, pending[1])];
      else merged.push(s, e);
    }
    if (pending) merged.push(pending[0], pending[1]);
    this.runs.splice(0, this.runs.length, ...merged);
    while (this.runs.length > this.maxRuns * 2) this.runs.splice(0, 2);
  }

  /** The runs, for tests and debugging. */
  toArray(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.runs.length; i += 2) out.push([this.runs[i], this.runs[i + 1]]);
    return out;
  }
}
