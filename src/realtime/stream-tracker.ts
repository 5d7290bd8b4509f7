import type { WireFrame } from './prepared-frame.js';
import { SeqRanges } from './seq-ranges.js';

/** Where a frame stands in an ordered stream (a chat's messages: id = chatId, seq = message seq). */
export interface StreamPosition {
  id: string;
  seq: number;
  /**
   * The frame is about the message at `seq` (an edit, a delete), not that message itself: it
   * waits behind the stream's held frames, so it never arrives before the message it changes,
   * but it is never taken for a repeat.
   */
  about?: true;
  /**
   * The frame is the message at `seq` published again (a send repeated with its clientId, whose
   * first publication may have died with the instance that stored it): written only where the
   * stream has gone as far as the seq before it and not further, never as a first frame.
   */
  repair?: true;
}

/**
 * Reads what a connection (the tracker's sink) missed of a stream from the store: the messages
 * after `afterSeq` up to `upToSeq`, oldest first, as its user may see them (refused when no longer
 * a member). One function for all connections: a closure each would cost every idle socket.
 */
export type ReadMissed = (
  sink: StreamSink,
  streamId: string,
  afterSeq: number,
  upToSeq: number,
) => Promise<Array<{ seq: number; frame: WireFrame }>>;

/** What a frame tells about one thing in a stream (`of`: a member of the chat, or the chat itself), as of when (`n`: higher is later). */
export interface StateVersion {
  of: string;
  n: number;
}

/** Where a frame with no position of its own goes in a stream, and what it does to it (StreamTracker.admitBehind). */
export interface BehindPlace {
  /** Right after this seq of the stream (a member removed or added: the chat's last seq then). Without it, after everything kept back. */
  behindSeq?: number;
  /** Once written, the stream ends on this connection: its user left the chat. */
  ends?: boolean;
  /** With `ends`: for good (the chat was deleted). */
  gone?: boolean;
  /**
   * With `behindSeq`: the connection's user comes into the stream there (added to the chat, or it
   * was created with them). A stream with no position on this connection then stands at
   * `behindSeq`, so the messages after it are written in order, one that overtook another waiting
   * for it, as in a stream the connection has had all along.
   */
  starts?: boolean;
  /**
   * The frame tells where `of` stands as of `n` (a member added or removed, the chat renamed: the
   * chat's version). One that comes after a frame about the same `of` with the same or a higher `n` is
   * dropped: it is a repeat, or it crossed from another instance more slowly than a later change,
   * and written last it would leave the client believing what is no longer so.
   */
  version?: StateVersion;
  /** The frame is for members only: dropped when the stream ended on this connection (its user left) and has not started again. */
  whileIn?: boolean;
}

/** Where the tracker writes the frames it lets through (the connection). */
export interface StreamSink {
  sendRaw(frame: WireFrame): boolean;
  /**
   * Runs `write`, which writes frames kept back until now (counted as kept meanwhile): the sink
   * lets its send buffer hold what of them the client has not read on top of its usual bound,
   * since the client could not read them while they were kept.
   */
  releasing?(write: () => void): void;
}

/** How many separate runs of delivered positions a connection remembers per stream, to recognise repeats. */
const REMEMBERED_RUNS_PER_STREAM = 64;
/** How many ended streams a connection remembers where they ended, to drop their stragglers. */
const REMEMBERED_ENDS = 64;
/**
 * How long a connection remembers the versions it was told of in a stream (BehindPlace.version)
 * after the last of them, to drop a stale one: a stale frame trails the later one only by the time
 * a frame takes between instances. By time, not by count: one request adds up to 100 members.
 */
const VERSION_MEMORY_MS = 60_000;
/** Streams whose versions a connection keeps at most (the oldest told forgotten first), whatever their age. */
const REMEMBERED_VERSION_STREAMS = 64;
/**
 * Messages read back for one gap at a time (as a `sync` page): a larger gap is read in steps, a
 * wait apart, so that the socket drains in between and a healthy client is never closed as slow.
 */
export const GAP_READ_MAX = 50;
/** A read of a gap that takes longer is given up: the frames held meanwhile go out past the gap. */
const GAP_READ_TIMEOUT_MS = 2_000;

interface Waiting {
  seq: number;
  frame: WireFrame;
  about?: true;
  /** Goes after everything the stream keeps back now, with no place of its own (admitBehind). */
  behind?: true;
  /** With `behind`: once written, the stream ends on this connection (admitBehind). */
  ends?: true;
  /** With `ends`: for good (admitBehind). */
  gone?: true;
  /** With `behind`: once written, the stream stands at its place if it stood nowhere (admitBehind). */
  starts?: true;
  /** With `starts`: what it tells, remembered once it is written (admitBehind). */
  version?: StateVersion;
  /** With `behind`: dropped rather than written should the stream have ended by then (BehindPlace.whileIn). */
  whileIn?: true;
}

interface StreamState {
  id: string;
  /** Positions sent on this connection since it opened: runs, so in-order delivery costs no memory. */
  delivered: SeqRanges;
  /** Live frames waiting: during a catch-up of this stream, or while every stream is held. */
  held?: Waiting[];
  /** Catch-ups of this stream under way (two `sync` frames may ask for one chat at once). */
  catchUps: number;
  /** Live frames that came ahead of a gap (seq 7 before 6), waiting a moment for the ones before them. */
  early?: Waiting[];
  gapTimer?: NodeJS.Timeout;
  /** The highest seq a read of missed frames was asked for: a gap that starts at or below it is not read again. */
  readThrough?: number;
  /** Catch-ups begun on this stream so far: a read's result is written only if no other began meanwhile. */
  begun: number;
}

/**
 * Stream order; at one seq the message itself first, then what is about it, in arrival order (the
 * sort is stable). At one place a start comes last: removed and added back with nothing sent in
 * between, the user hears of the two in that order.
 */
const bySeq = (a: Waiting, b: Waiting) => a.seq - b.seq || rank(a) - rank(b);
const rank = (w: Waiting) => (w.about ? 1 : w.starts ? 2 : 0);

/**
 * Per connection: which positions of which streams it has been sent, so that a catch-up
 * (`sync`) after a reconnect neither repeats a frame that arrived live nor lets a live frame
 * overtake history it belongs after; and, with several instances, so that a frame that overtook
 * an earlier one on the way (seq 7 published by this instance while seq 6 is still crossing Redis
 * from another) waits up to `reorderWaitMs` for it. Costs nothing until a stream's first frame.
 *
 * When the wait is over and the gap is still open (the frame is slower than that, or was never
 * published: its instance died between the commit and the publish), the missing frames are read
 * from the store (`readMissed`) and written in their place; a straggler that comes after them is
 * then a repeat. Only if the store has nothing for the gap either do the later frames go out past it.
 */
export class StreamTracker {
  private streams?: Map<string, StreamState>;
  /**
   * Where streams ended on this connection (its user left the chat at that seq): a frame of the
   * stream up to there that was still on its way is dropped, never written after the end.
   */
  private ends?: Map<string, number>;
  /**
   * The last version of each thing the connection was told of (BehindPlace.version), by stream,
   * with when the stream's last came; a stream quiet for VERSION_MEMORY_MS is forgotten. Keyed by
   * the strings of the fan-out message, which all its connections share.
   */
  private versions?: Map<string, { told: Map<string, number>; at: number }>;
  /** Set from a connection's start until its first catch-up (or a short timeout): see holdAll. */
  private holdingAll = false;
  /** The connection closed: nothing more is waited for, read or written. */
  private disposed = false;
  /** See keptBytes. */
  private kept = 0;

  constructor(
    private readonly sink: StreamSink,
    private readonly reorderWaitMs = 0,
    private readonly readMissed?: ReadMissed,
  ) {}

  /**
   * Holds every live stream frame until releaseAll. A client that reconnects sends `sync` right
   * after `ready`; holding what arrives meanwhile lets the history it asked for go out first, so
   * it receives each chat in seq order.
   */
  holdAll(): void {
    this.holdingAll = true;
  }

  /** Stops holding; writes the held frames of streams not in a catch-up, each stream in order. */
  releaseAll(): void {
    this.holdingAll = false;
    for (const state of this.streams?.values() ?? []) {
      if (state.held && state.catchUps === 0) this.flushHeld(state);
    }
  }

  /** Writes a live frame now, or keeps it (held, or waiting for an earlier one); drops a repeat. True when written. */
  admitLive(position: StreamPosition, frame: WireFrame): boolean {
    if (this.endedAt(position)) return false;
    if (position.repair) {
      // Only where it can be the next frame (or fill a gap ahead): not to a connection that never
      // had this stream, nor one past it, for which it would be an old message out of place.
      const last = this.streams?.get(position.id)?.delivered.last;
      if (last === undefined || position.seq <= last) return false;
    }
    const state = this.state(position.id);
    if (state.held || this.holdingAll) {
      if (position.about) this.keep((state.held ??= []), { seq: position.seq, frame, about: true });
      else if (!state.delivered.has(position.seq)) this.keep((state.held ??= []), { seq: position.seq, frame });
      return false;
    }
    return this.offer(state, position.seq, frame, position.about);
  }

  /**
   * A frame that must not overtake what the stream is keeping back (a member removed, a chat
   * deleted, a read pointer: after the messages of that chat this connection is still to get),
   * but is not a message of it: written now when nothing is kept back.
   *
   * `behindSeq` is its place when it has one (a member removed or added: the chat's last seq then):
   * among the frames kept back it goes after those up to it and before later ones, and when the
   * messages up to it have not all come yet it waits for them like a frame past a gap. Without it,
   * it goes after all of them and never waits.
   *
   * With `ends` (this connection's user left the chat, or it is gone) the stream starts afresh
   * once the frame is written: what was sent of it is forgotten. Should it go on (the user is
   * added back), its messages past the end wait a moment for the frame that says where the user
   * came back (`starts`), rather than going out at once in whatever order they come; with
   * `starts` the stream stands at the frame's place from then on. A `starts` frame that finds the
   * stream still standing where it is (at or before its place) waits for the end before it, which
   * is on its way: added back through one instance, removed through another.
   */
  admitBehind(streamId: string, frame: WireFrame, place: BehindPlace = {}): void {
    const { behindSeq, ends = false, gone = false } = place;
    // RealtimeService.send sets `starts` only so; checked again for messages from other instances.
    const starts = place.starts === true && behindSeq !== undefined && !ends;
    // A start is remembered once written, not when it comes: it may wait for the end before it
    // (added back through one instance, removed through another), which must not then count as
    // older than it and be dropped.
    if (place.version && this.outdated(streamId, place.version)) return;
    if (place.version && !starts) this.remember(streamId, place.version);
    if (place.whileIn && this.left(streamId)) return;
    const state = starts ? this.state(streamId) : this.streams?.get(streamId);
    const seq = behindSeq === undefined ? Number.POSITIVE_INFINITY : behindSeq + 0.5;
    const waiting: Waiting = { seq, frame, behind: true };
    if (ends) waiting.ends = true;
    if (ends && gone) waiting.gone = true;
    if (starts) waiting.starts = true;
    if (starts && place.version) waiting.version = place.version;
    if (place.whileIn) waiting.whileIn = true;
    const last = state?.delivered.last;
    if (state?.held) {
      this.keep(state.held, waiting);
    } else if (state?.early) {
      this.keep(state.early, waiting);
      // The messages that came first were waiting for where this user stands, or a start for
      // this end: now it is known.
      if ((starts && last === undefined) || ends) this.drainEarly(state, false);
    } else if (state && this.reorderWaitMs > 0 && this.waitsBehind(state, waiting)) {
      this.wait(state, waiting);
    } else if (state) {
      this.writeBehind(state, waiting);
      this.forgetIfEmpty(state);
    } else {
      this.sink.sendRaw(frame);
      // Nothing of it sent here yet, but some may be on its way.
      if (ends && (gone || behindSeq !== undefined)) this.rememberEnd(streamId, gone ? Number.POSITIVE_INFINITY : (behindSeq as number));
      if (gone) this.versions?.delete(streamId);
    }
  }

  /** Starts a catch-up of one stream; live frames of it are held until `end`. */
  begin(streamId: string): CatchUp {
    const state = this.state(streamId);
    state.held ??= [];
    state.catchUps += 1;
    state.begun += 1;
    // Frames waiting for a gap wait for the catch-up instead: its history may well fill the gap.
    if (state.early) {
      state.held.push(...state.early);
      this.stopWaiting(state);
    }
    let ended = false;
    return {
      sent: (seq) => state.delivered.add(seq),
      through: (seq) => state.delivered.addRun(0, seq),
      end: () => {
        if (ended) return;
        ended = true;
        state.catchUps -= 1;
        if (state.catchUps > 0) return;
        this.flushHeld(state);
      },
    };
  }

  /** How many streams this connection keeps state for (for tests and diagnostics). */
  get size(): number {
    return this.streams?.size ?? 0;
  }

  /**
   * Bytes of the frames this connection keeps back (held behind a catch-up, or waiting for a gap):
   * the connection bounds them as it bounds its send buffer, so a client that stretches a `sync`
   * out by reading slowly cannot make the server keep a busy chat's messages without end.
   */
  get keptBytes(): number {
    return this.kept;
  }

  /** The connection closed: stops the timers. */
  dispose(): void {
    this.disposed = true;
    for (const state of this.streams?.values() ?? []) {
      this.stopWaiting(state);
      state.held = undefined;
    }
    this.kept = 0;
  }

  private flushHeld(state: StreamState): void {
    const held = (state.held ?? []).sort(bySeq);
    state.held = undefined;
    for (const waiting of held) this.release(waiting);
    if (held.length > 0 && this.sink.releasing) this.sink.releasing(() => this.writeHeld(state, held));
    else this.writeHeld(state, held);
    this.forgetIfEmpty(state);
  }

  private writeHeld(state: StreamState, held: Waiting[]): void {
    for (const waiting of held) {
      const { seq, frame, about, behind } = waiting;
      if (behind) {
        // Behind the frames before it: those still waiting for a gap keep it waiting too; one with
        // a place past what was written waits for the messages up to it (a read found none: once more).
        if (state.early) this.keep(state.early, waiting);
        else if (this.reorderWaitMs > 0 && this.waitsBehind(state, waiting)) this.wait(state, waiting);
        else this.writeBehind(state, waiting);
      } else {
        this.offer(state, seq, frame, about);
      }
    }
  }

  /**
   * Writes the frame if it is next (or the stream has no history on this connection yet, or the
   * gap wait is off), else keeps it in `early` until the frames before it come or the wait ends.
   */
  private offer(state: StreamState, seq: number, frame: WireFrame, about: true | undefined): boolean {
    const last = state.delivered.last;
    if (about) {
      // About a message this connection has not had yet, though it has had earlier ones: that
      // message is on its way (from another instance), and this waits for it like a gap.
      if (this.reorderWaitMs > 0 && last !== undefined && seq > last) return this.wait(state, { seq, frame, about });
      this.sink.sendRaw(frame);
      return true;
    }
    if (state.delivered.has(seq)) return false;
    if (this.reorderWaitMs > 0 && last !== undefined && seq > last + 1) return this.wait(state, { seq, frame });
    // The user left this chat here, and one of its messages past the end comes: they were added
    // back, where the frame that says so (member_added, with `starts`) tells, and it may still be
    // on its way (from another instance). The message waits for it like a frame past a gap.
    if (this.reorderWaitMs > 0 && last === undefined && this.ends?.has(state.id)) return this.wait(state, { seq, frame });
    state.delivered.add(seq);
    this.sink.sendRaw(frame);
    if (state.early) this.drainEarly(state, false);
    return true;
  }

  private wait(state: StreamState, waiting: Waiting): false {
    if (this.disposed) return false;
    this.keep((state.early ??= []), waiting);
    state.gapTimer ??= unref(setTimeout(() => this.gapWaitOver(state), this.reorderWaitMs));
    return false;
  }

  /**
   * The frames before the early ones did not come in time: read them from the store, as a
   * catch-up of the stream (live frames are held meanwhile, and those the read wrote are
   * repeats). A gap the store could not fill, or a second wait for the same gap, lets the early
   * frames go out past it.
   */
  private gapWaitOver(state: StreamState): void {
    state.gapTimer = undefined;
    if (this.disposed) return;
    const last = state.delivered.last;
    const wanted = wantedThrough(state.early ?? []);
    // A read that already covered where this gap starts found nothing there: the store cannot fill it.
    if (!this.readMissed || last === undefined || wanted <= last || (state.readThrough ?? 0) > last) {
      this.drainEarly(state, true);
      return;
    }
    const upTo = Math.min(wanted, last + GAP_READ_MAX);
    state.readThrough = upTo;
    const catchUp = this.begin(state.id);
    const mine = state.begun;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = unref(setTimeout(() => reject(new Error('gap read timed out')), GAP_READ_TIMEOUT_MS));
    });
    Promise.race([this.readMissed(this.sink, state.id, last, upTo), timedOut])
      .then(
        (frames) => {
          // Written only in place: not after the connection closed, nor once another catch-up
          // (a `sync` of this chat) began meanwhile, whose history covers these and may be past them.
          if (this.disposed || state.begun !== mine) return;
          for (const { seq, frame } of frames) {
            if (seq <= last || seq > upTo || state.delivered.has(seq)) continue;
            catchUp.sent(seq);
            this.sink.sendRaw(frame);
          }
        },
        () => undefined, // the early frames go out past the gap, after a second wait
      )
      .finally(() => {
        clearTimeout(timer);
        catchUp.end();
      });
  }

  /** Writes the early frames that are now next, in order; with `force` (the wait is over), all of them. */
  private drainEarly(state: StreamState, force: boolean): void {
    const early = (state.early ?? []).sort(bySeq);
    let taken = 0;
    for (; taken < early.length; taken++) {
      const { seq, frame, about, behind } = early[taken];
      // Undefined once the stream started afresh (below): then nothing before a frame is awaited.
      const last = state.delivered.last;
      if (behind) {
        // Everything before it has been written (the loop stops at the first that waits); one with
        // a place waits, like a message there, for the messages up to it.
        if (!force && this.waitsBehind(state, early[taken])) break;
        this.writeBehind(state, early[taken]);
        continue;
      } else if (about) {
        if (!force && last !== undefined && seq > last) break;
      } else if (state.delivered.has(seq)) {
        continue;
      } else if (!force && last !== undefined && seq !== last + 1) {
        break;
      } else if (!force && last === undefined && this.ends?.has(state.id)) {
        break; // the user left here and is not yet told where they came back (member_added): as in offer()
      } else {
        state.delivered.add(seq);
      }
      this.sink.sendRaw(frame);
    }
    for (const written of early.splice(0, taken)) this.release(written);
    if (early.length === 0) {
      this.stopWaiting(state);
      this.forgetIfEmpty(state);
    }
  }

  /**
   * Whether a frame that is not a message waits before it is written: its place is past what this
   * connection has had (the messages up to it are on their way, from another instance), or it
   * starts the stream where the connection still stands (the end before it is on its way).
   */
  private waitsBehind(state: StreamState, { seq, starts }: Waiting): boolean {
    const last = state.delivered.last;
    if (last === undefined || !Number.isFinite(seq)) return false;
    return seq - 0.5 > last || (starts === true && seq - 0.5 >= last);
  }

  /** Writes a frame that has no position of its own, and ends or starts the stream as it says. */
  private writeBehind(state: StreamState, { seq, frame, ends, gone, starts, version, whileIn }: Waiting): void {
    // Kept back behind the end of the stream (its user left meanwhile): not for them any more.
    if (whileIn && this.left(state.id)) return;
    this.sink.sendRaw(frame);
    if (version) this.remember(state.id, version);
    if (ends) this.end(state, seq, gone);
    // The user came into the stream at the frame's place: with no position here, it stands there.
    else if (starts && state.delivered.last === undefined) state.delivered.addRun(0, seq - 0.5);
  }

  /**
   * The stream ended on this connection (its user left the chat) with the frame at `place` (its
   * seq + 0.5; infinite when it has none). What was sent of it no longer says where it stands,
   * so it starts afresh; and a frame up to that place still on its way is dropped when it comes.
   * Without a place, the end is taken to be the last frame sent; a stream `gone` for good (the
   * chat was deleted) drops every frame of it still on its way.
   */
  private end(state: StreamState, place: number, gone?: boolean): void {
    // A chat deleted: its versions go with it (its id may come back, the LOCAL seed group's does, counting from 0).
    if (gone) this.versions?.delete(state.id);
    const endSeq = gone ? Number.POSITIVE_INFINITY : Number.isFinite(place) ? place - 0.5 : state.delivered.last;
    state.delivered = new SeqRanges(REMEMBERED_RUNS_PER_STREAM);
    state.readThrough = undefined;
    if (endSeq !== undefined) this.rememberEnd(state.id, endSeq);
  }

  /** Whether the connection was told of this version, or a later one, of the same thing: then the frame is dropped. */
  private outdated(streamId: string, { of, n }: StateVersion): boolean {
    const told = this.toldIn(streamId, Date.now())?.told.get(of);
    return told !== undefined && told >= n;
  }

  /** Remembers the version as the last the connection was told of its thing (unless it was told of a later one). */
  private remember(streamId: string, { of, n }: StateVersion): void {
    const now = Date.now();
    this.versions ??= new Map();
    const stream = this.toldIn(streamId, now) ?? { told: new Map<string, number>(), at: now };
    const told = stream.told.get(of);
    if (told === undefined || told < n) stream.told.set(of, n);
    stream.at = now;
    this.versions.delete(streamId); // re-inserted last: the stream told longest ago is forgotten first
    this.versions.set(streamId, stream);
    for (const [id, { at }] of this.versions) {
      if (this.versions.size <= REMEMBERED_VERSION_STREAMS && now - at <= VERSION_MEMORY_MS) break;
      this.versions.delete(id);
    }
  }

  /** What the connection remembers it was told in the stream; nothing once it has been quiet for VERSION_MEMORY_MS (long past any straggler). */
  private toldIn(streamId: string, now: number): { told: Map<string, number>; at: number } | undefined {
    const stream = this.versions?.get(streamId);
    return stream && now - stream.at <= VERSION_MEMORY_MS ? stream : undefined;
  }

  /** Whether the stream ended here (the user left, or the chat is gone) and nothing has started it again since (added back). */
  private left(streamId: string): boolean {
    return this.ends?.has(streamId) === true && this.streams?.get(streamId)?.delivered.last === undefined;
  }

  private rememberEnd(streamId: string, endSeq: number): void {
    this.ends ??= new Map();
    this.ends.delete(streamId); // re-inserted last: the oldest end is forgotten first
    this.ends.set(streamId, endSeq);
    if (this.ends.size > REMEMBERED_ENDS) this.ends.delete(this.ends.keys().next().value as string);
  }

  /**
   * A message of a stream that ended here, at or before where it ended, still on its way. (Edits
   * and deletes are not dropped: those made after the end are not sent to who left, and one added
   * back sees the chat's history, changes to it included.)
   */
  private endedAt(position: StreamPosition): boolean {
    if (position.about) return false;
    const endSeq = this.ends?.get(position.id);
    return endSeq !== undefined && position.seq <= endSeq;
  }

  /** Keeps a frame back in `list`, counting its bytes (keptBytes). */
  private keep(list: Waiting[], waiting: Waiting): void {
    list.push(waiting);
    this.kept += sizeOf(waiting.frame);
  }

  /** A kept frame left its list (written, dropped, or about to be kept again elsewhere). */
  private release(waiting: Waiting): void {
    this.kept = Math.max(0, this.kept - sizeOf(waiting.frame));
  }

  /**
   * Drops a stream that keeps nothing: nothing sent, held, waiting or being caught up. A stream
   * that never had a frame here (a chat the client is not in, named in a sync) leaves nothing
   * behind: a client naming chats at random must not grow the connection's memory.
   */
  private forgetIfEmpty(state: StreamState): void {
    if (state.catchUps > 0 || state.held || state.early || state.delivered.last !== undefined) return;
    if (this.streams?.get(state.id) === state) this.streams.delete(state.id);
  }

  private stopWaiting(state: StreamState): void {
    state.early = undefined;
    clearTimeout(state.gapTimer);
    state.gapTimer = undefined;
  }

  private state(streamId: string): StreamState {
    this.streams ??= new Map();
    let state = this.streams.get(streamId);
    if (!state) {
      state = { id: streamId, delivered: new SeqRanges(REMEMBERED_RUNS_PER_STREAM), catchUps: 0, begun: 0 };
      this.streams.set(streamId, state);
    }
    return state;
  }
}

/**
 * The highest seq the early frames need before them: each message's predecessor, the message an
 * edit is about, a removal's place; up to the first frame that ends the stream, whose user may
 * no longer read what led up to it (and what comes after it is another stretch of the stream).
 */
function wantedThrough(early: Waiting[]): number {
  let wanted = 0;
  for (const { seq, about, behind, ends } of [...early].sort(bySeq)) {
    if (ends) break;
    const needs = behind ? seq - 0.5 : about ? seq : seq - 1;
    if (Number.isFinite(needs) && needs > wanted) wanted = needs;
  }
  return wanted;
}

/** A frame's size as a connection keeps it: its text's length, or its prepared bytes (shared with other connections, counted for each). */
function sizeOf(frame: WireFrame): number {
  return typeof frame === 'string' ? frame.length : frame.bytes.length;
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}

export interface CatchUp {
  /** Records that the catch-up wrote this position (a held live frame of it is then not written again). */
  sent(seq: number): void;
  /**
   * Records that the client has every position up to `seq` (what it said it had, and what the
   * catch-up wrote): the stream stands there, so a live frame past a gap after it waits (and the
   * gap is read), even when the catch-up wrote nothing. 0: the stream stands before its first.
   */
  through(seq: number): void;
  /** Ends the catch-up and writes the held live frames still to write, in stream order. */
  end(): void;
}
