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
}

/** How many separate runs of delivered positions a connection remembers per stream, to recognise repeats. */
const REMEMBERED_RUNS_PER_STREAM = 64;

interface StreamState {
  /** Positions sent on this connection since it opened: runs, so in-order delivery costs no memory. */
  delivered: SeqRanges;
  /** Live frames waiting: during a catch-up of this stream, or while every stream is held. */
  held?: Array<{ seq: number; frame: WireFrame; about?: true }>;
  catchingUp?: boolean;
}

/**
 * Per connection: which positions of which streams it has been sent, so that a catch-up
 * (`sync`) after a reconnect neither repeats a frame that arrived live nor lets a live frame
 * overtake history it belongs after. Costs nothing until a stream's first frame.
 */
export class StreamTracker {
  private streams?: Map<string, StreamState>;
  /** Set from a connection's start until its first catch-up (or a short timeout): see holdAll. */
  private holdingAll = false;

  /**
   * Holds every live stream frame until releaseAll. A client that reconnects sends `sync` right
   * after `ready`; holding what arrives meanwhile lets the history it asked for go out first, so
   * it receives each chat in seq order.
   */
  holdAll(): void {
    this.holdingAll = true;
  }

  /** Stops holding; returns the held frames of streams not in a catch-up, each stream in order. */
  releaseAll(): WireFrame[] {
    this.holdingAll = false;
    const out: WireFrame[] = [];
    for (const state of this.streams?.values() ?? []) {
      if (state.held && !state.catchingUp) out.push(...this.flush(state));
    }
    return out;
  }

  /** Whether to write a live frame now (false: already sent, or held until the catch-up ends). */
  admitLive(position: StreamPosition, frame: WireFrame): boolean {
    const state = this.state(position.id);
    if (position.about) {
      if (!state.held && !this.holdingAll) return true;
      (state.held ??= []).push({ seq: position.seq, frame, about: true });
      return false;
    }
    if (state.delivered.has(position.seq)) return false;
    if (state.held || this.holdingAll) {
      (state.held ??= []).push({ seq: position.seq, frame });
      return false;
    }
    this.remember(state, position.seq);
    return true;
  }

  /** Starts a catch-up of one stream; live frames of it are held until `end`. */
  begin(streamId: string): CatchUp {
    const state = this.state(streamId);
    state.held ??= [];
    state.catchingUp = true;
    return {
      alreadySent: (seq) => state.delivered.has(seq),
      sent: (seq) => this.remember(state, seq),
      end: () => {
        state.catchingUp = false;
        return this.flush(state);
      },
    };
  }

  /**
   * The held frames in stream order; the sort is stable, so an edit or delete keeps its place
   * after the message it is about and after earlier changes to it.
   */
  private flush(state: StreamState): WireFrame[] {
    const held = (state.held ?? []).sort((a, b) => a.seq - b.seq);
    state.held = undefined;
    const out: WireFrame[] = [];
    for (const { seq, frame, about } of held) {
      if (about) out.push(frame);
      else if (!state.delivered.has(seq)) {
        this.remember(state, seq);
        out.push(frame);
      }
    }
    return out;
  }

  private state(streamId: string): StreamState {
    this.streams ??= new Map();
    let state = this.streams.get(streamId);
    if (!state) {
      state = { delivered: new SeqRanges(REMEMBERED_RUNS_PER_STREAM) };
      this.streams.set(streamId, state);
    }
    return state;
  }

  private remember(state: StreamState, seq: number): void {
    state.delivered.add(seq);
  }
}

export interface CatchUp {
  /** True when the frame at this position already went out on the connection (live or earlier). */
  alreadySent(seq: number): boolean;
  /** Records that the catch-up wrote this position. */
  sent(seq: number): void;
  /** Ends the catch-up; returns the held live frames still to write, in stream order. */
  end(): WireFrame[];
}
