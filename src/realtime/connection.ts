import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { errorFrame, withId } from './frames.js';
import type { WireFrame } from './prepared-frame.js';
import { ReleasedBacklog } from './released-backlog.js';
import type { MissedMessages } from './missed-messages.js';
import { type BehindPlace, type ReadMissed, StreamTracker, type StreamPosition } from './stream-tracker.js';
import type { FrameId, ServerEvent } from './server-events.js';

/** Close codes the contract and RFC 6455 give meaning to. */
export const CloseCode = {
  /** RFC 6455: the server is restarting; reconnect (with backoff). */
  RESTARTING: 1012,
  /** RFC 6455: try again later; here, the client reads too slowly, or its address has too many sockets not yet authenticated. */
  TRY_AGAIN_LATER: 1013,
  /** Unexpected server failure. */
  INTERNAL: 1011,
  /** RFC 6455 policy violation; here, more sockets for one user than an instance takes. */
  POLICY: 1008,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
} as const;

export type ConnectionState = 'pending' | 'authenticated' | 'closing' | 'closed';

/**
 * A frame handler that a gateway's @SubscribeMessage contributed, already bound to this socket by
 * Nest: it resolves to the reply (or an Observable of replies), and answers its own errors.
 */
export type BoundHandler = (payload: unknown, frame: FrameContext) => unknown;

/** Each frame type handlers exist for gets a slot, the same on every connection. */
const handlerSlots = new Map<string, number>();

function handlerSlot(type: string): number {
  let slot = handlerSlots.get(type);
  if (slot === undefined) handlerSlots.set(type, (slot = handlerSlots.size));
  return slot;
}

/** Passed to handlers as their third argument (inject it with @CurrentFrame()); the exception filter reads the id from it. */
export interface FrameContext {
  type: string;
  id?: FrameId;
  connectionId: string;
  /**
   * Lets the connection start on its next frame before this one is finished. A handler calls it
   * once the part that must happen in arrival order is done (a send is queued for storage, and
   * the store keeps the order of the calls); until then, and without it until the handler
   * returns, frames are handled one at a time.
   */
  admitNext: () => void;
}

export interface ConnectionLimits {
  /** Bytes queued for the client beyond which it counts as too slow and is closed with 1013. */
  maxBufferedBytes: number;
  /** Frames received but not yet handled beyond which reading from the socket pauses. */
  maxQueuedFrames: number;
  /** Bytes of frames received and not yet handled beyond which reading pauses too. */
  maxQueuedFrameBytes?: number;
  /** How long a live frame that overtook an earlier one of its stream waits for it (0: not at all). */
  reorderWaitMs?: number;
  /**
   * Bytes of live frames kept back (behind a catch-up, or waiting for a gap) beyond which the
   * client counts as too slow too, and is closed with 1013: a `sync` lasts as long as the client
   * takes to read it, and the chats' live messages wait for it meanwhile.
   */
  maxKeptBytes?: number;
}

const connections = new WeakMap<object, Connection>();

/** The Connection behind a raw socket (what Nest hands gateways as the client). */
export function connectionOf(client: unknown): Connection | undefined {
  return typeof client === 'object' && client !== null ? connections.get(client) : undefined;
}

type TimerName = 'auth' | 'hold';

/**
 * One WebSocket on this instance: who it belongs to once authenticated, the handlers gateways
 * bound to it, and the discipline every socket needs (bounded send buffer, frames handled in
 * arrival order, timers cleared on close). There is one per connected device, so it keeps to
 * plain fields: what only some connections need (waiters, a second timer) is made on demand.
 */
export class Connection {
  state: ConnectionState = 'pending';
  userId?: string;
  sessionId?: string;
  /** When the socket was accepted (Date.now()), for the line its close writes. */
  readonly openedAt = Date.now();
  /** True from a protocol ping until its pong (or any frame) arrives. */
  awaitingPong = false;
  /** Which slice of each heartbeat interval pings this connection (set by ConnectionManager). */
  heartbeatSlice = 0;
  /** Where ConnectionManager files this connection by token expiry (see ExpiryWheel). */
  expiryBucket?: number;
  /** The client address this connection counts against while it is not authenticated (see PendingSockets). */
  pendingAddress?: string;
  /** Positions of ordered streams sent on this connection (see stream-tracker.ts). */
  readonly streams: StreamTracker;
  /** The gateways' handlers, by handlerSlot(type). */
  private readonly handlers: Array<BoundHandler | undefined> = [];
  private authTimer?: NodeJS.Timeout;
  private holdTimer?: NodeJS.Timeout;
  /** Settles when the newest queued frame admits the next one (see enqueue). */
  private admission: Promise<void> = Promise.resolve();
  /** Frames queued or being handled, and their size in bytes. */
  private queued = 0;
  private queuedBytes = 0;
  private idleWaiters?: Array<() => void>;
  private closeWaiters?: Array<() => void>;
  /** True while frames are being gathered for one write (see sendRaw). */
  private corked = false;
  /** Frames that came between registration and `ready` (see deferUntilReady). */
  private beforeReady?: WireFrame[];
  /** Frames kept back and let out at once, while the client has not read them all (see releasing). */
  private backlog?: ReleasedBacklog;
  /** True while a release writes: the bound is judged once it is all written. */
  private inRelease = false;

  /**
   * `transport` is the TCP socket under `socket` (the upgrade request's socket): frames sent in
   * one tick are gathered on it and written together. The owner calls `socketClosed` when the
   * socket's `close` event comes.
   */
  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    private readonly limits: ConnectionLimits,
    private readonly onSlowConsumer: (connection: Connection) => void,
    private readonly transport?: Socket,
    /** Reads a gap in a chat's live messages that waiting did not fill, shared by all connections (see readMissedWith). */
    readMissed?: ReadMissed,
  ) {
    this.streams = new StreamTracker(this, limits.reorderWaitMs, readMissed);
    connections.set(socket, this);
  }

  get isOpen(): boolean {
    return this.state === 'pending' || this.state === 'authenticated';
  }

  get isAuthenticated(): boolean {
    return this.state === 'authenticated';
  }

  /** The socket closed: stops the timers and wakes whoever waits in whenClosed. */
  socketClosed(): void {
    this.state = 'closed';
    this.clearTimers();
    this.streams.dispose();
    for (const wake of this.closeWaiters?.splice(0) ?? []) wake();
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  setHandler(type: string, handler: BoundHandler): void {
    this.handlers[handlerSlot(type)] = handler;
  }

  handler(type: string): BoundHandler | undefined {
    const slot = handlerSlots.get(type);
    return slot === undefined ? undefined : this.handlers[slot];
  }

  /**
   * Sends an already serialised frame. Returns false when the socket is gone or was just closed
   * for being slow. Frames sent in the same tick (a batch of messages fanned out, an ack and the
   * sender's own copy) leave in one write: on loopback and in the kernel a write costs far more
   * than the bytes in it, and a socket in a busy chat gets several frames per tick.
   */
  sendRaw(frame: WireFrame): boolean {
    if (!this.isOpen || this.socket.readyState !== this.socket.OPEN) return false;
    if (this.beforeReady) {
      this.beforeReady.push(frame);
      return true;
    }
    if (!this.corked && this.transport) {
      this.corked = true;
      this.transport.cork();
      if (corkedThisTick.push(this) === 1) process.nextTick(flushCorked);
    }
    if (typeof frame === 'string') this.socket.send(frame);
    else if (this.transport) this.transport.write(frame.bytes);
    else this.socket.send(frame.text);
    this.backlog?.wrote(typeof frame === 'string' ? frame.length : frame.bytes.length, this.inRelease);
    if (this.inRelease || this.withinBound()) return true;
    // Over the bound, but while corked that counts this tick's frames too: write them now (and
    // keep gathering for the rest of the tick), then judge what the kernel did not take.
    if (this.corked && this.transport) {
      this.transport.uncork();
      this.transport.cork();
    }
    return this.checkBuffer();
  }

  /**
   * Waits until at most `highWater` bytes wait to be sent (a `sync` writes its next page then).
   * False when the connection is gone, or when it was still over after `timeoutMs` and has been
   * closed as too slow (1013, reported like any slow consumer).
   */
  async drained(highWater: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.isOpen && this.socket.readyState === this.socket.OPEN && this.socket.bufferedAmount > highWater) {
      if (Date.now() > deadline) {
        this.closeAsSlow();
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.isOpen && this.socket.readyState === this.socket.OPEN;
  }

  /**
   * Writes live frames kept back (behind the first catch-up, or a `sync`) as they are let out,
   * together: they were bounded as kept bytes (maxKeptBytes) while the client could not read
   * them, so what it has not read of them yet does not count against maxBufferedBytes
   * (ReleasedBacklog); the bound applies to the rest, new frames included.
   */
  releasing(write: () => void): void {
    if (this.inRelease) return write();
    (this.backlog ??= new ReleasedBacklog()).begin(this.socket.bufferedAmount);
    this.inRelease = true;
    try {
      write();
    } finally {
      this.inRelease = false;
    }
    if (this.isOpen) this.checkBuffer();
  }

  /** Whether what waits to be sent is within the bound: maxBufferedBytes beyond the released frames not read yet. */
  private withinBound(): boolean {
    const buffered = this.socket.bufferedAmount;
    if (!this.backlog) return buffered <= this.limits.maxBufferedBytes;
    const unread = this.backlog.unread(buffered);
    if (unread === 0) this.backlog = undefined; // all read: the usual bound again
    return buffered <= this.limits.maxBufferedBytes + unread;
  }

  /** Closes the socket with 1013 when the client has left too much unread. */
  private checkBuffer(): boolean {
    if (this.withinBound()) return true;
    this.closeAsSlow();
    return false;
  }

  /** The client reads too slowly for what is waiting for it: reported, and closed with 1013. */
  private closeAsSlow(): void {
    this.onSlowConsumer(this);
    this.close(CloseCode.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
  }

  /**
   * Keeps every frame for this connection until `sendReady`: a connection is registered for
   * fan-out before its `ready` goes out (so it misses nothing in between), yet `ready` is its
   * first frame.
   */
  deferUntilReady(): void {
    this.beforeReady ??= [];
  }

  /** Sends `ready`, then whatever waited for it, in arrival order. */
  sendReady(ready: ServerEvent<'ready'>, id?: FrameId): void {
    const waiting = this.beforeReady;
    this.beforeReady = undefined;
    this.send(ready, id);
    for (const frame of waiting ?? []) this.sendRaw(frame);
  }

  /** Holds live stream frames until the first catch-up ends, or `ms` passes (see StreamTracker.holdAll). */
  holdStreams(ms: number): void {
    this.streams.holdAll();
    this.setTimer('hold', ms, () => this.releaseStreams());
  }

  /** Writes what holdStreams kept back, in order, and stops holding. */
  releaseStreams(): void {
    this.clearTimer('hold');
    this.streams.releaseAll();
  }

  /**
   * A live frame with a place in an ordered stream: skipped when already sent, held during a
   * catch-up, and briefly kept when it overtook an earlier one (see StreamTracker).
   */
  sendInStream(position: StreamPosition, frame: WireFrame): void {
    if (!this.streams.admitLive(position, frame)) this.checkKept();
  }

  /** A live frame that goes after whatever a stream keeps back now, and may end or start it (see StreamTracker.admitBehind). */
  sendBehind(streamId: string, frame: WireFrame, place?: BehindPlace): void {
    this.streams.admitBehind(streamId, frame, place);
    this.checkKept();
  }

  /** Closes the socket with 1013 when it keeps more live frames back than it may (see ConnectionLimits.maxKeptBytes). */
  private checkKept(): void {
    if (this.limits.maxKeptBytes !== undefined && this.streams.keptBytes > this.limits.maxKeptBytes && this.isOpen) this.closeAsSlow();
  }

  send(event: ServerEvent | ({ type: string } & object), id?: FrameId): boolean {
    return this.sendRaw(JSON.stringify(withId(event, id)));
  }

  sendError(error: unknown, id?: FrameId): boolean {
    return this.send(errorFrame(error, id));
  }

  /** Starts the closing handshake; the registry forgets the socket when it has closed. Idempotent. */
  close(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.state = 'closing';
    this.clearTimers();
    // A paused socket could not read the client's half of the closing handshake.
    this.socket.resume();
    this.socket.close(code, reason);
  }

  terminate(): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.socket.terminate();
  }

  setTimer(name: TimerName, ms: number, fire: () => void): void {
    this.clearTimer(name);
    if (!this.isOpen) return;
    // setTimeout cannot wait longer than 2^31-1 ms (~24.8 days); nothing here needs to.
    const timer = setTimeout(fire, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    timer.unref();
    if (name === 'auth') this.authTimer = timer;
    else this.holdTimer = timer;
  }

  clearTimer(name: TimerName): void {
    if (name === 'auth') {
      clearTimeout(this.authTimer);
      this.authTimer = undefined;
    } else {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
  }

  private clearTimers(): void {
    this.clearTimer('auth');
    this.clearTimer('hold');
  }

  /**
   * Runs `task` once every task queued before it has admitted it: frames are handled in the order
   * they arrived, one at a time unless a task calls `admitNext` early (a send, once queued for
   * storage in order), so two `send_message` frames are stored in the order they were sent while
   * a sender's next frame need not wait for the previous commit. Reading pauses while too many
   * frames wait or run, which pushes back on a client that floods.
   */
  enqueue(task: (admitNext: () => void) => Promise<void>, bytes = 0): Promise<void> {
    this.queued++;
    this.queuedBytes += bytes;
    if (this.overQueued() && this.isOpen) this.socket.pause();
    let admitNext!: () => void;
    const admitted = new Promise<void>((resolve) => (admitNext = resolve));
    const run = this.admission
      .then(() => task(admitNext))
      .finally(() => {
        admitNext();
        this.queued--;
        this.queuedBytes -= bytes;
        if (this.underHalfQueued() && this.socket.isPaused && this.isOpen) this.socket.resume();
        if (this.queued === 0) for (const wake of this.idleWaiters?.splice(0) ?? []) wake();
      });
    this.admission = admitted;
    // Callers that await `run` still see its rejection; one that does not must not crash the process.
    run.catch(() => undefined);
    return run;
  }

  private overQueued(): boolean {
    return this.queued > this.limits.maxQueuedFrames || this.queuedBytes > (this.limits.maxQueuedFrameBytes ?? Number.POSITIVE_INFINITY);
  }

  private underHalfQueued(): boolean {
    return (
      this.queued <= this.limits.maxQueuedFrames / 2 &&
      this.queuedBytes <= (this.limits.maxQueuedFrameBytes ?? Number.POSITIVE_INFINITY) / 2
    );
  }

  /** Resolves once every frame received so far has been handled. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /** Writes what sendRaw gathered during this tick, then judges what the client left unread. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.transport?.uncork();
    if (this.isOpen) this.checkBuffer();
  }
}

/** Connections gathering frames during this tick; one callback writes them all out after it. */
let corkedThisTick: Connection[] = [];

function flushCorked(): void {
  const corked = corkedThisTick;
  corkedThisTick = [];
  for (const connection of corked) connection.flush();
}

/**
 * The one ReadMissed for every connection: the gap is read as the connection's user may see it
 * (a socket not yet authenticated has no stream to have a gap in).
 */
export function readMissedWith(missed: MissedMessages): ReadMissed {
  return (sink, chatId, afterSeq, upToSeq) => {
    const userId = (sink as Connection).userId;
    return userId ? missed.read(userId, chatId, afterSeq, upToSeq) : Promise.resolve([]);
  };
}
