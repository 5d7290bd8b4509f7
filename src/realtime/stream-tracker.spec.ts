import { jest } from '@jest/globals';
import type { WireFrame } from './prepared-frame.js';
import { GAP_READ_MAX, type ReadMissed, StreamTracker } from './stream-tracker.js';

/** A tracker writing into `written`; `reorderWaitMs` 0 unless given (no reordering wait). */
function tracker(reorderWaitMs = 0, readMissed?: ReadMissed) {
  const written: WireFrame[] = [];
  const streams = new StreamTracker({ sendRaw: (frame) => (written.push(frame), true) }, reorderWaitMs, readMissed);
  return { streams, written };
}

/** A store of stream `c` holding seqs 1..top, read as `stored<seq>`; records what it was asked. */
function store(top: number, member = () => true) {
  const asked: Array<[string, number, number]> = [];
  const readMissed: ReadMissed = async (_sink, id, after, upTo) => {
    asked.push([id, after, upTo]);
    if (!member()) throw new Error('CHAT_NOT_FOUND');
    const frames = [];
    for (let seq = after + 1; seq <= Math.min(upTo, top); seq++) frames.push({ seq, frame: `stored${seq}` });
    return frames;
  };
  return { asked, readMissed };
}

describe('StreamTracker', () => {
  afterEach(() => jest.useRealTimers());

  it('admits each live position once', () => {
    const { streams, written } = tracker();
    expect(streams.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(true);
    expect(streams.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(false);
    expect(streams.admitLive({ id: 'other', seq: 5 }, 'o5')).toBe(true);
    expect(written).toEqual(['f5', 'o5']);
  });

  it('holds live frames during a catch-up and releases the unsent ones in order afterwards', () => {
    const { streams, written } = tracker();
    streams.admitLive({ id: 'c', seq: 9 }, 'f9'); // arrived live right after the reconnect
    const catchUp = streams.begin('c');
    expect(streams.admitLive({ id: 'c', seq: 12 }, 'f12')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 11 }, 'f11')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 8 }, 'f8')).toBe(false);
    for (const seq of [7, 8, 9, 10]) catchUp.sent(seq); // the history asked for (9 again: the client asked)
    catchUp.end();
    expect(written).toEqual(['f9', 'f11', 'f12']); // the held 8 was in the history
    expect(streams.admitLive({ id: 'c', seq: 12 }, 'f12')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 13 }, 'f13')).toBe(true);
  });

  it('counts the bytes of the frames it keeps back, held or waiting for a gap, until they are written or dropped', () => {
    jest.useFakeTimers();
    const { streams, written } = tracker(200);
    const catchUp = streams.begin('c');
    streams.admitLive({ id: 'c', seq: 1 }, 'f1');
    streams.admitLive({ id: 'c', seq: 2, about: true }, 'edit2');
    streams.admitBehind('c', 'removed-x', { behindSeq: 1 });
    expect(streams.keptBytes).toBe('f1'.length + 'edit2'.length + 'removed-x'.length);
    catchUp.sent(1); // the history had 1: the held copy is dropped
    catchUp.end();
    expect(written).toEqual(['removed-x']);
    expect(streams.keptBytes).toBe('edit2'.length); // waits for message 2
    streams.admitLive({ id: 'c', seq: 4 }, 'f4'); // waits for 2 and 3
    expect(streams.keptBytes).toBe('edit2'.length + 'f4'.length);
    streams.admitLive({ id: 'c', seq: 2 }, 'f2');
    streams.admitLive({ id: 'c', seq: 3 }, 'f3');
    expect(written.slice(1)).toEqual(['f2', 'edit2', 'f3', 'f4']);
    expect(streams.keptBytes).toBe(0);
    streams.admitLive({ id: 'c', seq: 6 }, 'f6');
    streams.dispose();
    expect(streams.keptBytes).toBe(0);
  });

  it('keeps nothing for a stream whose catch-up wrote nothing and held nothing (a chat named at random)', () => {
    const { streams } = tracker();
    for (let i = 0; i < 1000; i++) streams.begin(`random-${i}`).end();
    expect(streams.size).toBe(0);
    const kept = streams.begin('c');
    kept.sent(1);
    kept.end();
    expect(streams.size).toBe(1);
  });

  it('holds live frames until every catch-up of a stream under way has ended', () => {
    const { streams, written } = tracker();
    const first = streams.begin('c');
    const second = streams.begin('c');
    expect(streams.admitLive({ id: 'c', seq: 3 }, 'f3')).toBe(false);
    for (const seq of [1, 2]) first.sent(seq);
    first.end();
    first.end(); // ending twice counts once
    expect(written).toEqual([]);
    second.sent(1);
    second.end();
    expect(written).toEqual(['f3']);
  });

  it('keeps a frame about a stream behind what the stream holds back, and writes it at once otherwise', () => {
    const { streams, written } = tracker(200);
    streams.admitBehind('quiet', 'q-removed'); // nothing kept back for it
    expect(written).toEqual(['q-removed']);

    const catchUp = streams.begin('c');
    streams.admitLive({ id: 'c', seq: 5 }, 'f5');
    streams.admitBehind('c', 'c-removed');
    expect(written).toEqual(['q-removed']);
    for (const seq of [1, 2, 3, 4]) catchUp.sent(seq);
    catchUp.end();
    expect(written).toEqual(['q-removed', 'f5', 'c-removed']);

    streams.admitLive({ id: 'c', seq: 7 }, 'f7'); // overtook 6: waits for it
    streams.admitBehind('c', 'c-read');
    expect(written).toHaveLength(3);
    streams.admitLive({ id: 'c', seq: 6 }, 'f6');
    expect(written.slice(3)).toEqual(['f6', 'f7', 'c-read']);

    streams.holdAll();
    streams.admitLive({ id: 'd', seq: 1 }, 'd1');
    streams.admitBehind('d', 'd-deleted');
    streams.releaseAll();
    expect(written.slice(6)).toEqual(['d1', 'd-deleted']);
  });

  it('holds every stream from the start until released, then writes each in order', () => {
    const { streams, written } = tracker();
    streams.holdAll();
    expect(streams.admitLive({ id: 'a', seq: 3 }, 'a3')).toBe(false);
    expect(streams.admitLive({ id: 'b', seq: 7 }, 'b7')).toBe(false);
    expect(streams.admitLive({ id: 'a', seq: 2 }, 'a2')).toBe(false);
    const catchUp = streams.begin('a');
    catchUp.sent(1);
    catchUp.sent(2);
    catchUp.end();
    expect(written).toEqual(['a3']);
    streams.releaseAll();
    expect(written).toEqual(['a3', 'b7']);
    expect(streams.admitLive({ id: 'b', seq: 8 }, 'b8')).toBe(true);
  });

  it('holds edits and deletes behind the held frames of their stream, in arrival order, and never takes them for repeats', () => {
    const { streams, written } = tracker();
    streams.holdAll();
    expect(streams.admitLive({ id: 'c', seq: 4 }, 'new4')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 4, about: true }, 'edit4')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 4, about: true }, 'delete4')).toBe(false);
    expect(streams.admitLive({ id: 'c', seq: 2, about: true }, 'edit2')).toBe(false);
    streams.releaseAll();
    expect(written).toEqual(['edit2', 'new4', 'edit4', 'delete4']);
    // Once flowing: straight through, however often.
    expect(streams.admitLive({ id: 'c', seq: 4, about: true }, 'edit4b')).toBe(true);
    expect(streams.admitLive({ id: 'c', seq: 4, about: true }, 'edit4c')).toBe(true);
    // During a catch-up they wait behind its history, even about a message the catch-up wrote.
    const catchUp = streams.begin('c');
    expect(streams.admitLive({ id: 'c', seq: 5, about: true }, 'edit5')).toBe(false);
    catchUp.sent(5);
    catchUp.end();
    expect(written.slice(-1)).toEqual(['edit5']);
  });

  describe('with a gap wait', () => {
    it('keeps a frame that overtook an earlier one until that one comes, then writes both in order', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 5 }, 'f5');
      expect(streams.admitLive({ id: 'c', seq: 7 }, 'f7')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 8 }, 'f8')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 8, about: true }, 'edit8')).toBe(false); // behind its message
      expect(streams.admitLive({ id: 'c', seq: 5, about: true }, 'edit5')).toBe(true); // its message is out
      expect(streams.admitLive({ id: 'other', seq: 1 }, 'o1')).toBe(true); // other streams flow
      expect(written).toEqual(['f5', 'edit5', 'o1']);
      expect(streams.admitLive({ id: 'c', seq: 6 }, 'f6')).toBe(true);
      expect(written).toEqual(['f5', 'edit5', 'o1', 'f6', 'f7', 'f8', 'edit8']);
      jest.advanceTimersByTime(1_000);
      expect(written).toHaveLength(7);
      expect(streams.admitLive({ id: 'c', seq: 9 }, 'f9')).toBe(true);
    });

    it('writes what waited, in order, once the wait is over when the earlier frame never comes', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 4 }, 'f4');
      streams.admitLive({ id: 'c', seq: 3 }, 'f3');
      jest.advanceTimersByTime(199);
      expect(written).toEqual(['f1']);
      jest.advanceTimersByTime(1);
      expect(written).toEqual(['f1', 'f3', 'f4']);
      // The missing one, late after all: still written (never lost), after the others.
      expect(streams.admitLive({ id: 'c', seq: 2 }, 'f2')).toBe(true);
      expect(streams.admitLive({ id: 'c', seq: 4 }, 'f4')).toBe(false);
      expect(written).toEqual(['f1', 'f3', 'f4', 'f2']);
    });

    it('keeps an edit that came before its own message (from another instance) until the message, then writes both in order', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 5 }, 'f5');
      expect(streams.admitLive({ id: 'c', seq: 6, about: true }, 'edit6')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 6 }, 'f6')).toBe(true);
      expect(written).toEqual(['f5', 'f6', 'edit6']);
      // One whose message never comes goes once the wait is over.
      expect(streams.admitLive({ id: 'c', seq: 9, about: true }, 'edit9')).toBe(false);
      jest.advanceTimersByTime(200);
      expect(written).toEqual(['f5', 'f6', 'edit6', 'edit9']);
    });

    it('puts a message before an edit of it that arrived first, among held frames too (with or without a wait)', () => {
      const { streams, written } = tracker(0);
      streams.admitLive({ id: 'c', seq: 6 }, 'f6');
      const catchUp = streams.begin('c');
      streams.admitLive({ id: 'c', seq: 7, about: true }, 'edit7');
      streams.admitLive({ id: 'c', seq: 7 }, 'f7');
      catchUp.end();
      expect(written).toEqual(['f6', 'f7', 'edit7']);
    });

    it('writes the first frame of a stream at once, having nothing to wait for', () => {
      const { streams, written } = tracker(200);
      expect(streams.admitLive({ id: 'c', seq: 40 }, 'f40')).toBe(true);
      expect(written).toEqual(['f40']);
    });

    it('lets a catch-up that starts while frames wait fill the gap, and writes them after its history', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 3 }, 'f3');
      const catchUp = streams.begin('c');
      jest.advanceTimersByTime(1_000); // no wait runs out during the catch-up
      expect(written).toEqual(['f1']);
      for (const seq of [2, 3]) {
        catchUp.sent(seq);
        written.push(`history${seq}`);
      }
      streams.admitLive({ id: 'c', seq: 4 }, 'f4');
      catchUp.end();
      expect(written).toEqual(['f1', 'history2', 'history3', 'f4']);
    });

    it('ends a stream with the frame that says so: after a comeback the stream stands where the user came back, not held for the gap', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 10 }, 'f10');
      streams.admitBehind('c', 'removed', { ends: true }); // this user left the chat
      expect(streams.size).toBe(0);
      // Added back after messages 11–20 went to the others: 21 waits for the frame that says so
      // (it came first, through another instance), and then goes, no gap 11–20 awaited.
      expect(streams.admitLive({ id: 'c', seq: 21 }, 'f21')).toBe(false);
      streams.admitBehind('c', 'added', { behindSeq: 20, starts: true });
      expect(written).toEqual(['f10', 'removed', 'added', 'f21']);
      // Without `ends` (another member left) the stream goes on, and a gap is still waited for.
      streams.admitBehind('c', 'other-removed');
      expect(streams.admitLive({ id: 'c', seq: 23 }, 'f23')).toBe(false);
      jest.advanceTimersByTime(200);
      expect(written).toEqual(['f10', 'removed', 'added', 'f21', 'other-removed', 'f23']);
    });

    it("waits with a re-added member's messages that overtook the frame saying where they came back, then writes them in seq order", () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 8 }, 'f8');
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true });
      // Added back when the chat was at 12; 15 and 13 come first, through this instance.
      expect(streams.admitLive({ id: 'c', seq: 15 }, 'f15')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 13 }, 'f13')).toBe(false);
      expect(written).toEqual(['f8', 'removed']);
      streams.admitBehind('c', 'added', { behindSeq: 12, starts: true });
      expect(written).toEqual(['f8', 'removed', 'added', 'f13']);
      streams.admitLive({ id: 'c', seq: 14 }, 'f14');
      expect(written).toEqual(['f8', 'removed', 'added', 'f13', 'f14', 'f15']);
      expect(jest.getTimerCount()).toBe(0);
      // Re-added with no message in between: the next one waits for the frame all the same.
      streams.admitBehind('c', 'removed-again', { behindSeq: 15, ends: true });
      expect(streams.admitLive({ id: 'c', seq: 16 }, 'f16')).toBe(false);
      streams.admitBehind('c', 'added-again', { behindSeq: 15, starts: true });
      expect(written.slice(-3)).toEqual(['removed-again', 'added-again', 'f16']);
    });

    it("keeps a re-added member's message that waited for a gap waiting when the removal comes, until the addition says where", () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 4 }, 'f4');
      // Removed at 4 (through another instance), added back at 6; 8 comes first, and waits for 5–7.
      expect(streams.admitLive({ id: 'c', seq: 8 }, 'f8')).toBe(false);
      streams.admitBehind('c', 'removed', { behindSeq: 4, ends: true });
      expect(written).toEqual(['f4', 'removed']);
      streams.admitBehind('c', 'added', { behindSeq: 6, starts: true });
      streams.admitLive({ id: 'c', seq: 7 }, 'f7');
      expect(written).toEqual(['f4', 'removed', 'added', 'f7', 'f8']);
    });

    it('tells of a removal and an addition back in that order when the addition comes first (through another instance)', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 10 }, 'f10');
      // Removed and added back with nothing sent in between: both at 10.
      streams.admitBehind('c', 'added', { behindSeq: 10, starts: true });
      expect(written).toEqual(['f10']);
      streams.admitBehind('c', 'removed', { behindSeq: 10, ends: true });
      expect(written).toEqual(['f10', 'removed', 'added']);
      expect(streams.admitLive({ id: 'c', seq: 11 }, 'f11')).toBe(true);

      // And with the last message before the removal still on its way too.
      streams.admitLive({ id: 'd', seq: 9 }, 'd9');
      streams.admitBehind('d', 'd-added', { behindSeq: 12, starts: true });
      streams.admitBehind('d', 'd-removed', { behindSeq: 10, ends: true });
      expect(written.slice(4)).toEqual(['d9']);
      streams.admitLive({ id: 'd', seq: 10 }, 'd10');
      expect(written.slice(4)).toEqual(['d9', 'd10', 'd-removed', 'd-added']);
      expect(streams.admitLive({ id: 'd', seq: 13 }, 'd13')).toBe(true);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('drops what it is told of another member after a later change to that member: removed and added back, the removal last', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 10 }, 'f10');
      // x removed (version 4) and added back (5) through two instances, with nothing sent between:
      // the addition crossed first. The removal, written last, would leave x out for this client.
      streams.admitBehind('c', 'x-added', { behindSeq: 10, version: { of: 'x', n: 5 } });
      streams.admitBehind('c', 'x-removed', { behindSeq: 10, version: { of: 'x', n: 4 } });
      // A change to another member, older still, is news about them: written.
      streams.admitBehind('c', 'y-added', { behindSeq: 10, version: { of: 'y', n: 3 } });
      // The same frame twice (published again) is written once.
      streams.admitBehind('c', 'y-added', { behindSeq: 10, version: { of: 'y', n: 3 } });
      // And in order, each is written.
      streams.admitBehind('c', 'x-removed-again', { behindSeq: 10, version: { of: 'x', n: 6 } });
      expect(written).toEqual(['f10', 'x-added', 'y-added', 'x-removed-again']);
      // Versions are per chat: the same member in another chat is another thing.
      streams.admitBehind('d', 'd-x-added', { version: { of: 'x', n: 1 } });
      expect(written.slice(-1)).toEqual(['d-x-added']);
    });

    it('drops a stale change to a member that comes while the newer one is still held behind a catch-up', () => {
      const { streams, written } = tracker();
      const catchUp = streams.begin('c');
      streams.admitBehind('c', 'x-added', { behindSeq: 3, version: { of: 'x', n: 2 } });
      streams.admitBehind('c', 'x-removed', { behindSeq: 3, version: { of: 'x', n: 1 } });
      catchUp.through(3);
      catchUp.end();
      expect(written).toEqual(['x-added']);
    });

    it('remembers every member it was told of in a chat, a bulk addition of 100 included, for a minute after the last', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker();
      // x removed (4), then added back with 99 others in one request (5): 100 frames at once.
      streams.admitBehind('c', 'x-added', { version: { of: 'x', n: 5 } });
      for (let i = 0; i < 99; i++) streams.admitBehind('c', `u${i}-added`, { version: { of: `u${i}`, n: 5 } });
      streams.admitBehind('c', 'x-removed-stale', { version: { of: 'x', n: 4 } });
      expect(written).not.toContain('x-removed-stale');
      // Quiet for over a minute: forgotten, long past any straggler.
      jest.advanceTimersByTime(61_000);
      streams.admitBehind('c', 'x-old', { version: { of: 'x', n: 3 } });
      expect(written.slice(-1)).toEqual(['x-old']);
    });

    it('drops a frame for members only (typing, a read) once its user left the chat, and writes it again once they are back', () => {
      const { streams, written } = tracker();
      streams.admitLive({ id: 'c', seq: 4 }, 'f4');
      streams.admitBehind('c', 'typing-1', { whileIn: true });
      streams.admitBehind('c', 'removed', { behindSeq: 4, ends: true });
      streams.admitBehind('c', 'typing-2', { whileIn: true });
      streams.admitBehind('c', 'read-2', { whileIn: true });
      // Other chats are not touched, nor frames for anyone (the chat's title, say).
      streams.admitBehind('d', 'typing-d', { whileIn: true });
      streams.admitBehind('c', 'anyone', {});
      streams.admitBehind('c', 'added', { behindSeq: 6, starts: true });
      streams.admitBehind('c', 'typing-3', { whileIn: true });
      // A chat deleted: nothing of it for members any more.
      streams.admitBehind('c', 'deleted', { ends: true, gone: true });
      streams.admitBehind('c', 'typing-4', { whileIn: true });
      expect(written).toEqual(['f4', 'typing-1', 'removed', 'typing-d', 'anyone', 'added', 'typing-3', 'deleted']);
    });

    it('drops a frame for members only kept back behind a removal that waited (for a message before it, or a catch-up)', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 4 }, 'm4');
      streams.admitBehind('c', 'removed', { behindSeq: 5, ends: true }); // waits for m5
      streams.admitBehind('c', 'typing', { whileIn: true });
      streams.admitLive({ id: 'c', seq: 5 }, 'm5');
      expect(written).toEqual(['m4', 'm5', 'removed']);

      const { streams: other, written: out } = tracker(200);
      const catchUp = other.begin('d');
      other.admitBehind('d', 'removed', { behindSeq: 0, ends: true });
      other.admitBehind('d', 'read', { whileIn: true });
      catchUp.through(0);
      catchUp.end();
      expect(out).toEqual(['removed']);
    });

    it('tells a member removed and added back of both, in order, when their addition comes first and their removal within the wait', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 8 }, 'm8');
      // Added back (version 5) at 9, through one instance; removed (4) at 8, through another, 20 ms later.
      streams.admitBehind('c', 'added', { behindSeq: 9, starts: true, version: { of: 'x', n: 5 } });
      jest.advanceTimersByTime(20);
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true, version: { of: 'x', n: 4 } });
      expect(written).toEqual(['m8', 'removed', 'added']);
      // Once told of the addition, the same removal again is stale.
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true, version: { of: 'x', n: 4 } });
      expect(written).toEqual(['m8', 'removed', 'added']);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('forgets the versions of a chat deleted (its id may come back, counting from 0)', () => {
      const { streams, written } = tracker();
      streams.admitBehind('c', 'x-added', { version: { of: 'x', n: 7 } });
      streams.admitBehind('c', 'deleted', { ends: true, gone: true });
      streams.admitBehind('c', 'x-added-anew', { version: { of: 'x', n: 1 } });
      expect(written).toEqual(['x-added', 'deleted', 'x-added-anew']);
    });

    it('writes at once a start that finds the stream already past its place (a message of the chat overtook it)', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 12 }, 'f12'); // sent right after the user was added at 11
      streams.admitBehind('c', 'added', { behindSeq: 11, starts: true });
      expect(written).toEqual(['f12', 'added']);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('lets the messages of a stream that ended go out after the wait when no frame says where the user came back', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 8 }, 'f8');
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true });
      expect(streams.admitLive({ id: 'c', seq: 14 }, 'f14')).toBe(false);
      jest.advanceTimersByTime(199);
      expect(written).toEqual(['f8', 'removed']);
      jest.advanceTimersByTime(1);
      expect(written).toEqual(['f8', 'removed', 'f14']);
    });

    it('starts the stream of a chat created with the user at 0, so its first messages go out in seq order', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitBehind('n', 'created', { behindSeq: 0, starts: true });
      expect(streams.admitLive({ id: 'n', seq: 2 }, 'n2')).toBe(false); // overtook 1 on the way
      expect(streams.admitLive({ id: 'n', seq: 1 }, 'n1')).toBe(true);
      expect(written).toEqual(['created', 'n1', 'n2']);
      // A stream the connection already stands in is not moved by it.
      streams.admitLive({ id: 'c', seq: 5 }, 'c5');
      streams.admitBehind('c', 'c-added', { behindSeq: 3, starts: true });
      expect(streams.admitLive({ id: 'c', seq: 6 }, 'c6')).toBe(true);
      expect(streams.admitLive({ id: 'c', seq: 4 }, 'c4')).toBe(true); // late, as before: not taken for a repeat
      expect(written.slice(3)).toEqual(['c5', 'c-added', 'c6', 'c4']);
    });

    it('ends a stream only after the frames it was keeping back, whether held or waiting for a gap', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 3 }, 'f3'); // waits for 2
      streams.admitBehind('c', 'removed', { ends: true });
      expect(written).toEqual(['f1']);
      streams.admitLive({ id: 'c', seq: 2 }, 'f2');
      expect(written).toEqual(['f1', 'f2', 'f3', 'removed']);
      expect(streams.size).toBe(0);

      streams.admitLive({ id: 'd', seq: 4 }, 'd4');
      const catchUp = streams.begin('d');
      streams.admitLive({ id: 'd', seq: 6 }, 'd6');
      streams.admitBehind('d', 'd-deleted', { ends: true });
      expect(streams.size).toBe(1); // the catch-up still writes into it
      catchUp.sent(5);
      written.push('history5');
      catchUp.end();
      expect(written.slice(-3)).toEqual(['history5', 'd6', 'd-deleted']);
      expect(streams.size).toBe(0);
      expect(streams.admitLive({ id: 'd', seq: 30 }, 'd30')).toBe(false); // waits for a frame saying where the user came back
      jest.advanceTimersByTime(200);
      expect(written.slice(-1)).toEqual(['d30']);
    });

    it('puts a frame with a place among the frames kept back: after those up to it, before later ones', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      // The removed user's connection, holding frames (just connected): removed at seq 10, added back, then 21.
      streams.admitLive({ id: 'c', seq: 10 }, 'f10');
      streams.holdAll();
      streams.admitLive({ id: 'c', seq: 21 }, 'f21');
      streams.admitBehind('c', 'removed', { behindSeq: 10, ends: true });
      streams.admitBehind('c', 'added', { behindSeq: 20, starts: true });
      streams.releaseAll();
      expect(written).toEqual(['f10', 'removed', 'added', 'f21']); // and 21 not held for the gap 11–20

      // Another member's connection, waiting for 6 when the removal (at seq 6) comes.
      streams.admitLive({ id: 'd', seq: 5 }, 'd5');
      streams.admitLive({ id: 'd', seq: 7 }, 'd7');
      streams.admitBehind('d', 'd-removed', { behindSeq: 6 });
      expect(written.slice(4)).toEqual(['d5']);
      streams.admitLive({ id: 'd', seq: 6 }, 'd6');
      expect(written.slice(4)).toEqual(['d5', 'd6', 'd-removed', 'd7']);
    });

    it('reads a gap that the wait did not fill from the store, writes it in place, and drops the stragglers', async () => {
      jest.useFakeTimers();
      const { asked, readMissed } = store(9);
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 5 }, 'f5');
      streams.admitLive({ id: 'c', seq: 8 }, 'f8'); // 6 and 7 are slow, or were never published
      await jest.advanceTimersByTimeAsync(199);
      expect(written).toEqual(['f5']);
      await jest.advanceTimersByTimeAsync(1);
      expect(asked).toEqual([['c', 5, 7]]);
      expect(written).toEqual(['f5', 'stored6', 'stored7', 'f8']);
      expect(streams.admitLive({ id: 'c', seq: 7 }, 'f7')).toBe(false); // the straggler, at last
      expect(streams.admitLive({ id: 'c', seq: 9 }, 'f9')).toBe(true);
      expect(written).toEqual(['f5', 'stored6', 'stored7', 'f8', 'f9']);
    });

    it('holds live frames while it reads a gap, and lets them out past it after a second wait when the store cannot fill it', async () => {
      jest.useFakeTimers();
      let member = true;
      const { asked, readMissed } = store(4, () => member);
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 7 }, 'f7');
      await jest.advanceTimersByTimeAsync(200); // the store has up to 4: 5 and 6 are nowhere
      expect(written).toEqual(['f1', 'stored2', 'stored3', 'stored4']);
      streams.admitLive({ id: 'c', seq: 8 }, 'f8');
      await jest.advanceTimersByTimeAsync(200); // the same gap is not read twice
      expect(asked).toEqual([['c', 1, 6]]);
      expect(written).toEqual(['f1', 'stored2', 'stored3', 'stored4', 'f7', 'f8']);

      member = false; // a failed read (no longer a member) lets them out too
      streams.admitLive({ id: 'c', seq: 10 }, 'f10');
      await jest.advanceTimersByTimeAsync(400);
      expect(written.slice(-1)).toEqual(['f10']);
    });

    it('stands where a catch-up says the client is, even when it wrote nothing: a later frame waits for the gap', async () => {
      jest.useFakeTimers();
      const { asked, readMissed } = store(9);
      const { streams, written } = tracker(200, readMissed);
      const sync = streams.begin('c');
      sync.through(3); // the client had everything up to 3; there was nothing newer
      sync.end();
      expect(streams.admitLive({ id: 'c', seq: 3 }, 'f3')).toBe(false); // it has that one
      expect(streams.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(false); // 4 is missing
      await jest.advanceTimersByTimeAsync(200);
      expect(asked).toEqual([['c', 3, 4]]);
      expect(written).toEqual(['stored4', 'f5']);
      // A republished message is taken where it is next, even on such a stream.
      const { streams: fresh, written: freshWritten } = tracker(200);
      const empty = fresh.begin('d');
      empty.through(0); // an empty chat, synced from 0
      empty.end();
      expect(fresh.admitLive({ id: 'd', seq: 1, repair: true }, 'again1')).toBe(true);
      expect(freshWritten).toEqual(['again1']);
    });

    it('reads a long gap in steps, a wait apart, so the socket drains in between', async () => {
      jest.useFakeTimers();
      const { asked, readMissed } = store(200);
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 121 }, 'f121');
      await jest.advanceTimersByTimeAsync(200);
      expect(written.length).toBe(1 + GAP_READ_MAX);
      await jest.advanceTimersByTimeAsync(400);
      expect(asked).toEqual([
        ['c', 1, 1 + GAP_READ_MAX],
        ['c', 1 + GAP_READ_MAX, 1 + 2 * GAP_READ_MAX],
        ['c', 1 + 2 * GAP_READ_MAX, 120],
      ]);
      expect(written).toEqual(['f1', ...Array.from({ length: 119 }, (_, i) => `stored${i + 2}`), 'f121']);
    });

    it('drops what a gap read brings when a sync of the chat began meanwhile: the sync writes those, in order', async () => {
      jest.useFakeTimers();
      let release: () => void = () => undefined;
      const readMissed: ReadMissed = () =>
        new Promise(
          (resolve) =>
            (release = () =>
              resolve([
                { seq: 2, frame: 'read2' },
                { seq: 3, frame: 'read3' },
              ])),
        );
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 4 }, 'f4');
      await jest.advanceTimersByTimeAsync(200); // the read is in flight
      const sync = streams.begin('c'); // the client asked for everything after 0
      for (const seq of [1, 2]) {
        sync.sent(seq);
        written.push(`sync${seq}`);
      }
      release();
      await jest.advanceTimersByTimeAsync(0);
      for (const seq of [3, 4]) {
        sync.sent(seq);
        written.push(`sync${seq}`);
      }
      sync.end();
      expect(written).toEqual(['f1', 'sync1', 'sync2', 'sync3', 'sync4']);
    });

    it('gives up a gap read that hangs, and lets the held frames out past the gap', async () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200, () => new Promise(() => undefined));
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 3 }, 'f3');
      await jest.advanceTimersByTimeAsync(200);
      streams.admitLive({ id: 'c', seq: 4 }, 'f4'); // held behind the read
      await jest.advanceTimersByTimeAsync(2_000);
      expect(written).toEqual(['f1']); // waiting once more for 2
      await jest.advanceTimersByTimeAsync(200);
      expect(written).toEqual(['f1', 'f3', 'f4']);
    });

    it('neither reads nor writes once the connection has closed, even when a read was in flight', async () => {
      jest.useFakeTimers();
      const asked: string[] = [];
      const releases: Array<() => void> = [];
      const readMissed: ReadMissed = (_sink, id) => {
        asked.push(id);
        return new Promise((resolve) => releases.push(() => resolve([{ seq: 2, frame: `${id}-read2` }])));
      };
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 4 }, 'f4'); // 2 and 3 missing: the read brings only 2
      await jest.advanceTimersByTimeAsync(200);
      expect(asked).toEqual(['c']);
      streams.dispose();
      for (const release of releases) release();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(asked).toEqual(['c']); // no second read for the gap at 3
      expect(written).toEqual(['f1']);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('after a read that found nothing, a removal with a place still waits once more for the messages up to it', async () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200, store(5).readMissed); // the store has up to 5 only, as yet
      streams.admitLive({ id: 'c', seq: 5 }, 'f5');
      streams.admitBehind('c', 'other-removed', { behindSeq: 8 }); // another member removed when the chat was at 8
      await jest.advanceTimersByTimeAsync(200);
      expect(written).toEqual(['f5']);
      for (const seq of [6, 7, 8]) streams.admitLive({ id: 'c', seq }, `f${seq}`);
      expect(written).toEqual(['f5', 'f6', 'f7', 'f8', 'other-removed']);
    });

    it('reads nothing up to a removal that ends the stream, nor past it', async () => {
      jest.useFakeTimers();
      const { asked, readMissed } = store(20);
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 5 }, 'f5');
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true });
      streams.admitLive({ id: 'c', seq: 12 }, 'f12'); // added back, and a message since
      await jest.advanceTimersByTimeAsync(400);
      expect(asked).toEqual([]);
      expect(written).toEqual(['f5', 'removed', 'f12']);
    });

    it('waits for the messages before a removal that ends the stream, and drops any that come after it', async () => {
      jest.useFakeTimers();
      const { readMissed } = store(10, () => false); // the user is no longer a member: nothing to read
      const { streams, written } = tracker(200, readMissed);
      streams.admitLive({ id: 'c', seq: 6 }, 'f6');
      streams.admitBehind('c', 'removed', { behindSeq: 8, ends: true }); // removed when the chat was at 8; 7 and 8 still on their way
      streams.admitLive({ id: 'c', seq: 7 }, 'f7');
      expect(written).toEqual(['f6', 'f7']);
      await jest.advanceTimersByTimeAsync(400);
      expect(written).toEqual(['f6', 'f7', 'removed']);
      expect(streams.admitLive({ id: 'c', seq: 8 }, 'f8')).toBe(false); // never after the removal
      streams.admitBehind('c', 'added', { behindSeq: 11, starts: true }); // added back
      expect(streams.admitLive({ id: 'c', seq: 12 }, 'f12')).toBe(true);
      expect(streams.admitLive({ id: 'c', seq: 3, about: true }, 'edit3')).toBe(true); // history is theirs again
      expect(written).toEqual(['f6', 'f7', 'removed', 'added', 'f12', 'edit3']);
    });

    it('drops the stragglers of a stream that ended before this connection had any of it', () => {
      const { streams, written } = tracker(200);
      streams.admitBehind('c', 'removed', { behindSeq: 4, ends: true });
      expect(streams.admitLive({ id: 'c', seq: 4 }, 'f4')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 5 }, 'f5')).toBe(false); // added back: waits for the frame that says so
      streams.admitBehind('c', 'added', { behindSeq: 4, starts: true });
      expect(written).toEqual(['removed', 'added', 'f5']);
    });

    it('drops every straggler of a stream gone for good (a deleted chat), whatever its seq', () => {
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 3 }, 'f3');
      streams.admitBehind('c', 'deleted', { ends: true, gone: true });
      expect(streams.admitLive({ id: 'c', seq: 4 }, 'f4')).toBe(false);
      expect(streams.admitLive({ id: 'c', seq: 400 }, 'f400')).toBe(false);
      streams.admitBehind('d', 'd-deleted', { ends: true, gone: true }); // never had any of it
      expect(streams.admitLive({ id: 'd', seq: 1 }, 'd1')).toBe(false);
      expect(written).toEqual(['f3', 'deleted', 'd-deleted']);
    });

    it('writes a message published again only where the stream stands right before it (or before a gap up to it)', () => {
      const { streams, written } = tracker(200);
      expect(streams.admitLive({ id: 'c', seq: 3, repair: true }, 'again3')).toBe(false); // never had the chat
      expect(streams.size).toBe(0);
      streams.admitLive({ id: 'c', seq: 2 }, 'f2');
      expect(streams.admitLive({ id: 'c', seq: 2, repair: true }, 'again2')).toBe(false); // had it
      expect(streams.admitLive({ id: 'c', seq: 3, repair: true }, 'again3')).toBe(true); // its publication was lost
      streams.admitLive({ id: 'c', seq: 5 }, 'f5'); // waits for 4
      expect(streams.admitLive({ id: 'c', seq: 1, repair: true }, 'again1')).toBe(false); // an old one, out of place
      expect(written).toEqual(['f2', 'again3']);
      streams.dispose();
    });

    it('stops its timers when the connection closes', () => {
      jest.useFakeTimers();
      const { streams, written } = tracker(200);
      streams.admitLive({ id: 'c', seq: 1 }, 'f1');
      streams.admitLive({ id: 'c', seq: 3 }, 'f3');
      expect(jest.getTimerCount()).toBe(1);
      streams.dispose();
      expect(jest.getTimerCount()).toBe(0);
      expect(written).toEqual(['f1']);
    });
  });
});
