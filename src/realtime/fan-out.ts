import type { DeliveryTarget } from './socket-registry.js';
import type { BehindPlace, StateVersion, StreamPosition } from './stream-tracker.js';

/**
 * What one instance asks all of them (itself included) to do with their local sockets. `frame`
 * is serialised once by the sender and written to every matching socket as is.
 */
export type FanOutMessage =
  | {
      kind: 'deliver';
      target: DeliveryTarget;
      frame: string;
      /** The frame is the message at this position of an ordered stream (see StreamTracker). */
      stream?: StreamPosition;
      /**
       * The frame is about the message at this position (an edit, a delete): it goes after it.
       * A field of its own, not a flag on `stream`, so an instance that predates it just writes
       * the frame rather than taking it for a repeat of the message.
       */
      after?: StreamPosition;
      /** The frame goes after whatever this stream (a chat) keeps back on a connection, without a place in it. */
      behind?: string;
      /** With `behind`: the frame's place in the stream (see SendOptions.behindSeq). Instances that predate it ignore it. */
      behindSeq?: number;
      /** With `behind`: the stream ends there for the recipients (see SendOptions.endsStream). Instances that predate it ignore it. */
      ends?: true;
      /** With `ends`: the stream is gone for good (see SendOptions.streamGone). Instances that predate it ignore it. */
      gone?: true;
      /** With `behindSeq`: the recipients come into the stream there (see SendOptions.startsStream). Instances that predate it ignore it. */
      starts?: true;
      /** With `behind`: what the frame tells, as of when (see SendOptions.version). Instances that predate it ignore it. */
      version?: StateVersion;
      /** With `behind`: only while the recipient is in the stream (see SendOptions.whileIn). Instances that predate it ignore it. */
      whileIn?: true;
      /**
       * A message published again (`stream.repair`) goes to these users; `target.userIds` is then
       * empty, so an instance that predates repairs, which would write it to every connection
       * lacking its seq (some long past it), writes it to no one.
       */
      repairUserIds?: string[];
    }
  | { kind: 'close'; target: DeliveryTarget; code: number; reason: string };

/**
 * Where a delivered frame with `behind` goes in its stream on each connection, as the message
 * says (undefined without `behind`). The fields keep their names on the wire, which instances of
 * other versions read too.
 */
export function behindPlaceOf(message: Extract<FanOutMessage, { kind: 'deliver' }>): BehindPlace | undefined {
  if (!message.behind) return undefined;
  return {
    behindSeq: message.behindSeq,
    ends: message.ends === true,
    gone: message.gone === true,
    starts: message.starts === true,
    version: message.version,
    whileIn: message.whileIn === true,
  };
}

export type FanOutListener = (message: FanOutMessage) => void;

/** Told that this instance missed messages published by others (which, and for whom, is unknown). */
export type MissedListener = (why: string) => void;

/**
 * Carries FanOutMessages to every instance of the server. In-process when there is one instance;
 * Redis pub/sub when REDIS_URL is set. Delivery is at most once: an instance that is cut off
 * misses messages; it notices (onMissed) and its clients catch up with `sync` when they reconnect.
 */
export abstract class FanOut {
  /** Where messages land on this instance. Set once, by the connection manager. */
  abstract listen(listener: FanOutListener): void;

  /** Hands the message to this instance's listener at once, and to every other instance. */
  abstract publish(message: FanOutMessage): Promise<void>;

  /**
   * Where to report that messages from other instances were lost on the way (a Redis outage,
   * a dropped subscription). In-process fan-out loses nothing and never calls it.
   */
  onMissed(_listener: MissedListener): void {}

  /** 'in-process' or 'redis', for logs and docs. */
  abstract readonly mode: string;
}
