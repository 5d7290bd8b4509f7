import { SeqRanges } from './seq-ranges.js';

describe('SeqRanges', () => {
  it('keeps seqs that arrive in order as one run', () => {
    const ranges = new SeqRanges();
    for (let seq = 5; seq <= 10_000; seq++) ranges.add(seq);
    expect(ranges.toArray()).toEqual([[5, 10_000]]);
    expect(ranges.has(4)).toBe(false);
    expect(ranges.has(5)).toBe(true);
    expect(ranges.has(7_777)).toBe(true);
    expect(ranges.has(10_001)).toBe(false);
  });

  it('opens runs for gaps and merges them when the gaps fill', () => {
    const ranges = new SeqRanges();
    for (const seq of [10, 12, 14, 11, 3, 13, 13, 2, 4]) ranges.add(seq);
    expect(ranges.toArray()).toEqual([
      [2, 4],
      [10, 14],
    ]);
  });

  it('answers exactly as a Set would for any order of additions', () => {
    // A deterministic pseudo-random sequence, so a failure can be replayed.
    let state = 42;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const ranges = new SeqRanges(1_000);
      const set = new Set<number>();
      for (let i = 0; i < 60; i++) {
        const seq = 1 + Math.floor(random() * 80);
        ranges.add(seq);
        set.add(seq);
      }
      for (let seq = 0; seq <= 81; seq++) expect([seq, ranges.has(seq)]).toEqual([seq, set.has(seq)]);
      const runs = ranges.toArray();
      for (let i = 1; i < runs.length; i++) expect(runs[i][0]).toBeGreaterThan(runs[i - 1][1] + 1);
    }
  });

  it('forgets the lowest run past its limit', () => {
    const ranges = new SeqRanges(3);
    for (const seq of [1, 3, 5, 7]) ranges.add(seq);
    expect(ranges.toArray()).toEqual([
      [3, 3],
      [5, 5],
      [7, 7],
    ]);
    expect(ranges.has(1)).toBe(false);
  });

  it('knows its highest seq, whatever order they came in', () => {
    const ranges = new SeqRanges();
    expect(ranges.last).toBeUndefined();
    ranges.add(5);
    ranges.add(9);
    ranges.add(7);
    expect(ranges.last).toBe(9);
    ranges.add(2);
    expect(ranges.last).toBe(9);
  });

  it('adds a whole run, merging with the runs it touches or overlaps', () => {
    const ranges = new SeqRanges();
    for (const seq of [3, 9, 10, 20]) ranges.add(seq);
    ranges.addRun(0, 5);
    expect(ranges.toArray()).toEqual([
      [0, 5],
      [9, 10],
      [20, 20],
    ]);
    ranges.addRun(6, 8); // touches both neighbours
    expect(ranges.toArray()).toEqual([
      [0, 10],
      [20, 20],
    ]);
    ranges.addRun(12, 30);
    expect(ranges.toArray()).toEqual([
      [0, 10],
      [12, 30],
    ]);
    expect(ranges.last).toBe(30);
    ranges.addRun(5, 4); // empty
    expect(ranges.has(11)).toBe(false);
  });
});
