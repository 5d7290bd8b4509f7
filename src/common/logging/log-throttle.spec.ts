import { describe, expect, it } from '@jest/globals';
import { heldBackNote, LogThrottle } from './log-throttle.js';

describe('LogThrottle', () => {
  it('lets the first through, holds the rest back for the period, then lets one through with their count', () => {
    let now = 1_000;
    const throttle = new LogThrottle(10_000, () => now);
    expect(throttle.pass()).toBe(0);
    expect([throttle.pass(), throttle.pass(), throttle.pass()]).toEqual([undefined, undefined, undefined]);
    now += 9_999;
    expect(throttle.pass()).toBeUndefined();
    now += 1;
    expect(throttle.pass()).toBe(4);
    now += 10_000;
    expect(throttle.pass()).toBe(0);
  });
});

describe('heldBackNote', () => {
  it('counts the lines held back, and says nothing when none were', () => {
    expect(heldBackNote(3)).toBe(' (and 3 more since the last such line)');
    expect(heldBackNote(0)).toBe('');
  });
});
