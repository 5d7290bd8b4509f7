import { StreamTracker } from './stream-tracker.js';

describe('StreamTracker', () => {
  it('admits each live position once', () => {
    const tracker = new StreamTracker();
    expect(tracker.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(true);
    expect(tracker.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(false);
    expect(tracker.admitLive({ id: 'other', seq: 5 }, 'o5')).toBe(true);
  });

  it('holds live frames during a catch-up and releases the unsent ones in order afterwards', () => {
    const tracker = new StreamTracker();
    tracker.admitLive({ id: 'c', seq: 9 }, 'f9'); // arrived live right after the reconnect
    const catchUp = tracker.begin('c');
    expect(tracker.admitLive({ id: 'c', seq: 12 }, 'f12')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 11 }, 'f11')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 8 }, 'f8')).toBe(false);
    for (const seq of [7, 8, 9, 10]) {
      if (!catchUp.alreadySent(seq)) catchUp.sent(seq);
    }
    expect(catchUp.alreadySent(9)).toBe(true);
    expect(catchUp.end()).toEqual(['f11', 'f12']);
    expect(tracker.admitLive({ id: 'c', seq: 12 }, 'f12')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 13 }, 'f13')).toBe(true);
  });

  it('holds every stream from the start until released, then writes each in order', () => {
    const tracker = new StreamTracker();
    tracker.holdAll();
    expect(tracker.admitLive({ id: 'a', seq: 3 }, 'a3')).toBe(false);
    expect(tracker.admitLive({ id: 'b', seq: 7 }, 'b7')).toBe(false);
    expect(tracker.admitLive({ id: 'a', seq: 2 }, 'a2')).toBe(false);
    const catchUp = tracker.begin('a');
    catchUp.sent(1);
    catchUp.sent(2);
    expect(catchUp.end()).toEqual(['a3']);
    expect(tracker.releaseAll()).toEqual(['b7']);
    expect(tracker.admitLive({ id: 'b', seq: 8 }, 'b8')).toBe(true);
  });

  it('holds edits and deletes behind the held frames of their stream, in arrival order, and never takes them for repeats', () => {
    const tracker = new StreamTracker();
    tracker.holdAll();
    expect(tracker.admitLive({ id: 'c', seq: 4 }, 'new4')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 4, about: true }, 'edit4')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 4, about: true }, 'delete4')).toBe(false);
    expect(tracker.admitLive({ id: 'c', seq: 2, about: true }, 'edit2')).toBe(false);
    expect(tracker.releaseAll()).toEqual(['edit2', 'new4', 'edit4', 'delete4']);
    // Once flowing: straight through, however often.
    expect(tracker.admitLive({ id: 'c', seq: 4, about: true }, 'edit4b')).toBe(true);
    expect(tracker.admitLive({ id: 'c', seq: 4, about: true }, 'edit4c')).toBe(true);
    // During a catch-up they wait behind its history, even about a message the catch-up wrote.
    const catchUp = tracker.begin('c');
    expect(tracker.admitLive({ id: 'c', seq: 5, about: true }, 'edit5')).toBe(false);
    catchUp.sent(5);
    expect(catchUp.end()).toEqual(['edit5']);
  });
});
