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
});
