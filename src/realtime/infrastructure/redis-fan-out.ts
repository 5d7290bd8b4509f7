import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { FanOut, type FanOutListener, type FanOutMessage, type MissedListener } from '../fan-out.js';
import { errorMessage } from '../../common/errors/error-message.js';

/** The channel's name after REDIS_PREFIX. */
export const FAN_OUT_CHANNEL = 'realtime:fan-out';

/** Instances remembered by their last message number; past this many the longest silent is forgotten. */
const MAX_ORIGINS = 1_000;

/**
 * The first message heard from an instance is judged by the time of the one before it, by that
 * instance's clock; one published this long after this instance subscribed should have come. The
 * margin is for clocks set apart (or stepped), since a false report closes every socket here.
 */
const CLOCK_SKEW_MS = 10_000;

/**
 * Redis pub/sub between instances. Local sockets get the message directly (no round trip, and
 * they still get it while Redis is away); the others get it through the channel and skip what
 * they published themselves.
 *
 * Pub/sub drops what a subscriber is not connected for, so each instance numbers what it
 * publishes: a receiver that sees a number skipped (a publish that failed, a message lost on the
 * way), or whose subscription was interrupted, reports it through onMissed. The first message it
 * gets from an instance has no number before it to compare with (that instance, or this one, has
 * just started or re-subscribed), so each message also says when the one before it was published:
 * if that was after this instance subscribed, it should have come, and its loss is reported too.
 *
 * Wire format: `<origin>\n<header JSON>\n<frame>`; the header carries the number as `n` and the
 * time of the one before (ms since the epoch, by the publisher's clock) as `prevAt`. The
 * frame is appended raw rather than nested in the JSON, so it is neither escaped twice nor parsed
 * again on the receiving side.
 */
export class RedisFanOut extends FanOut {
  readonly mode = 'redis';
  private readonly origin = randomUUID();
  private readonly logger = new Logger('RealtimeFanOut');
  private listener: FanOutListener = () => undefined;
  private missedListener: MissedListener = () => undefined;
  /** Numbers this instance's messages. */
  private published = 0;
  /** When the last of them was published (or tried). */
  private lastPublishedAt: number | undefined;
  /** When the subscription (the last one, after an interruption) took effect; until then, never. */
  private subscribedAt = Infinity;
  /** When an instance was last forgotten (MAX_ORIGINS): its next message is a first again. */
  private forgottenAt = -Infinity;
  /** Per other instance, the number of the last message received from it. */
  private readonly lastReceived = new Map<string, number>();
  private interrupted = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    /** The full channel name, prefix included. */
    private readonly channel: string,
    /** CLOCK_SKEW_MS unless told (tests). */
    private readonly clockSkewMs = CLOCK_SKEW_MS,
  ) {
    super();
  }

  /** Subscribes before the app serves anyone, so no message published after start-up is missed. */
  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.receive(payload);
    });
    // ioredis reconnects and subscribes again by itself; what was published meanwhile is gone.
    // The loss is reported once the subscription is back for sure (ioredis says `ready` before
    // its own re-subscription is through), so whatever was lost, was lost before the report.
    this.subscriber.on('close', () => (this.interrupted = true));
    this.subscriber.on('ready', () => {
      if (!this.interrupted) return;
      this.subscriber.subscribe(this.channel).then(
        () => this.resubscribed(),
        (error: unknown) =>
          // Dropped again (the next `ready` tries again), or refused: then nothing arrives at all.
          this.logger.warn(`Could not subscribe to ${this.channel} again: ${errorMessage(error)}.`),
      );
    });
    await this.subscriber.subscribe(this.channel);
    this.subscribedAt = Date.now();
  }

  listen(listener: FanOutListener): void {
    this.listener = listener;
  }

  override onMissed(listener: MissedListener): void {
    this.missedListener = listener;
  }

  async publish(message: FanOutMessage): Promise<void> {
    this.listener(message);
    // Numbered even if the publish fails: the hole tells the others they missed something.
    const n = ++this.published;
    const previousAt = this.lastPublishedAt;
    this.lastPublishedAt = Date.now();
    await this.publisher.publish(this.channel, encode(this.origin, message, n, previousAt));
  }

  private receive(payload: string): void {
    let received: Received | undefined;
    try {
      received = decode(payload, this.origin);
    } catch (error) {
      this.logger.warn(`Ignored a malformed fan-out message: ${errorMessage(error)}`);
      return;
    }
    if (!received) return;
    // A number at or below the last one from that instance is one it published again: ioredis
    // sends the commands a dropped connection left unanswered once more when it reconnects, and
    // Redis may have taken the first already. Delivered once is enough.
    if (received.n !== undefined && !this.interrupted && received.n <= (this.lastReceived.get(received.origin) ?? 0)) return;
    try {
      this.listener(received.message);
    } catch (error) {
      // Inside ioredis's event: thrown on, it would take the process down.
      this.logger.error(`Could not deliver a fan-out message: ${errorMessage(error)}`, error instanceof Error ? error.stack : undefined);
    }
    if (received.n !== undefined) this.count(received.origin, received.n, received.previousAt);
  }

  private resubscribed(): void {
    if (!this.interrupted) return;
    this.interrupted = false;
    // Counting starts afresh: the numbers skipped during the outage are covered by this report.
    this.lastReceived.clear();
    this.subscribedAt = Date.now();
    this.missed('the subscription to Redis was interrupted');
  }

  private count(origin: string, n: number, previousAt: number | undefined): void {
    if (this.interrupted) return; // reported as a whole once the subscription is back
    const last = this.lastReceived.get(origin);
    this.lastReceived.delete(origin); // re-inserted last: the map stays ordered by recency
    this.lastReceived.set(origin, n);
    if (this.lastReceived.size > MAX_ORIGINS) {
      this.lastReceived.delete(this.lastReceived.keys().next().value as string);
      this.forgottenAt = Date.now();
    }
    if (last !== undefined && n > last + 1) this.missed(`${n - last - 1} message(s) from instance ${origin.slice(0, 8)} never arrived`);
    // The first from that instance since this one subscribed (or forgot one): the one before it
    // should have come too if it was published after that, by more than the clocks may differ.
    const since = Math.max(this.subscribedAt, this.forgottenAt);
    if (last === undefined && n > 1 && previousAt !== undefined && previousAt > since + this.clockSkewMs) {
      this.missed(`a message instance ${origin.slice(0, 8)} published after this one subscribed never arrived`);
    }
  }

  private missed(why: string): void {
    this.logger.warn(`Fan-out over Redis lost messages: ${why}.`);
    this.missedListener(why);
  }
}

export interface Received {
  origin: string;
  /** The sender's number for it; absent from instances that predate numbering. */
  n?: number;
  /** When the sender published its message before this one, by its clock; absent for its first, and from older instances. */
  previousAt?: number;
  message: FanOutMessage;
}

export function encode(origin: string, message: FanOutMessage, n: number, previousAt?: number): string {
  const numbering = previousAt === undefined ? { n } : { n, prevAt: previousAt };
  if (message.kind === 'deliver') {
    const { frame, ...header } = message;
    return `${origin}\n${JSON.stringify(Object.assign(header, numbering))}\n${frame}`;
  }
  return `${origin}\n${JSON.stringify(Object.assign({}, message, numbering))}\n`;
}

/** The message, or undefined when this instance published it itself. */
export function decode(payload: string, ownOrigin: string): Received | undefined {
  const first = payload.indexOf('\n');
  const second = payload.indexOf('\n', first + 1);
  if (first < 0 || second < 0) throw new Error('missing header');
  const origin = payload.slice(0, first);
  if (origin === ownOrigin) return undefined;
  const parsed = JSON.parse(payload.slice(first + 1, second)) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('header is not an object');
  const { n, prevAt, ...header } = parsed as FanOutMessage & { n?: unknown; prevAt?: unknown };
  const number = typeof n === 'number' ? n : undefined;
  const previousAt = typeof prevAt === 'number' ? prevAt : undefined;
  // Checked field by field: a message from another version, or another publisher on the channel,
  // must not reach the sockets half-formed.
  if (!isTarget(header.target)) throw new Error('target is not a delivery target');
  if (header.kind === 'deliver') {
    if (!isPosition(header.stream, true) || !isPosition(header.after, true)) throw new Error('stream or after is not a position');
    if (header.behind !== undefined && typeof header.behind !== 'string') throw new Error('behind is not a stream id');
    if (header.ends !== undefined && header.ends !== true) throw new Error('ends is not true');
    if (header.gone !== undefined && header.gone !== true) throw new Error('gone is not true');
    if (header.starts !== undefined && header.starts !== true) throw new Error('starts is not true');
    if (header.whileIn !== undefined && header.whileIn !== true) throw new Error('whileIn is not true');
    if (!isIdList(header.repairUserIds)) throw new Error('repairUserIds is not a list of ids');
    if (header.behindSeq !== undefined && !Number.isSafeInteger(header.behindSeq)) throw new Error('behindSeq is not a seq');
    if (!isVersion(header.version)) throw new Error('version is not { of, n }');
    return { origin, n: number, previousAt, message: Object.assign(header, { frame: payload.slice(second + 1) }) };
  }
  if (header.kind === 'close') {
    if (!Number.isInteger(header.code) || typeof header.reason !== 'string') throw new Error('close without a code and reason');
    return { origin, n: number, previousAt, message: header };
  }
  throw new Error(`unknown kind ${JSON.stringify((header as { kind?: unknown }).kind)}`);
}

function isVersion(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { of, n } = value as Record<string, unknown>;
  return typeof of === 'string' && Number.isSafeInteger(n);
}

const isIdList = (value: unknown): boolean => value === undefined || (Array.isArray(value) && value.every((v) => typeof v === 'string'));

function isTarget(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const target = value as Record<string, unknown>;
  return (
    isIdList(target.userIds) &&
    isIdList(target.sessionIds) &&
    (target.exceptConnectionId === undefined || typeof target.exceptConnectionId === 'string')
  );
}

function isPosition(value: unknown, optional: boolean): boolean {
  if (value === undefined) return optional;
  if (typeof value !== 'object' || value === null) return false;
  const position = value as Record<string, unknown>;
  return (
    typeof position.id === 'string' &&
    Number.isSafeInteger(position.seq) &&
    (position.about === undefined || position.about === true) &&
    (position.repair === undefined || position.repair === true)
  );
}
