import { Injectable, Logger } from '@nestjs/common';
import { heldBackNote, LogThrottle } from '../common/logging/log-throttle.js';
import { CloseCode } from './connection.js';
import { FanOut, type FanOutMessage } from './fan-out.js';
import type { ServerEvent } from './server-events.js';
import type { StateVersion, StreamPosition } from './stream-tracker.js';
import { errorMessage } from '../common/errors/error-message.js';

export interface SendOptions {
  /** Leave out this connection (typically the one whose frame caused the event). */
  exceptConnectionId?: string;
  /** Only these sessions of the users (e.g. the other devices of one session). */
  sessionIds?: string[];
  /** The frame's place in an ordered stream (a chat's messages), so catch-ups never repeat it. */
  stream?: StreamPosition;
  /** The frame changes the message at this position (an edit, a delete), so it never goes before it. */
  after?: StreamPosition;
  /**
   * The frame is about this chat (a member removed, the chat deleted, a read pointer): it goes
   * after the chat's messages a connection is still holding back, so a client never hears of one
   * of them after it heard it left.
   */
  behind?: string;
  /**
   * With `behind`: the frame's place is right after this seq of the chat (a member removed: the
   * chat's last seq at the removal). It still goes after the messages up to it that a connection
   * holds back, but not after later ones (the member added back meanwhile). Without it, after all.
   */
  behindSeq?: number;
  /**
   * With `behind`: the stream ends there for these recipients (they left the chat, or it is
   * gone), so their connections forget which of its messages they were sent. Should the stream
   * start again for them (re-added to the chat), its next message is not taken for one that came
   * past a gap and held back waiting for the ones before it, which they are never to get.
   */
  endsStream?: boolean;
  /**
   * With `endsStream`: the stream is gone for good (the chat was deleted), so a message of it
   * still on its way to a connection, whatever its seq, is dropped rather than written after this.
   */
  streamGone?: boolean;
  /**
   * With `behindSeq`: the recipients come into the stream there (they were added to the chat then,
   * or it was created with them). A connection that has no place in the stream yet, or whose stream
   * ended (they left before), stands there from then on: the chat's next messages reach it in seq
   * order, one that overtook another (through another instance) waiting for it, and messages of a
   * chat they were added back to wait for this frame rather than overtake it.
   */
  startsStream?: boolean;
  /**
   * With `behind`: the frame tells where `of` stands in the chat (a member added or removed, the
   * chat itself renamed) as of `n`, the chat's version (Chat.version). A connection already told
   * of a later version about `of` drops it: it came late, through another instance, and would
   * leave the client believing what is no longer so (removed and added back at once:
   * member_removed last).
   */
  version?: StateVersion;
  /**
   * With `behind`: the frame is for members only (someone typing, a read pointer, a message seen).
   * A connection whose user it told they left the chat drops it: it was on its way from another
   * instance when they left.
   */
  whileIn?: boolean;
}

/** A failing fan-out is logged at most this often (every event fails while Redis is away: ~100 a second). */
const FAILURE_LOG_EVERY_MS = 10_000;

/**
 * How features talk to connected clients: one typed `send` that reaches every socket (every
 * device) of the given users on every instance. Features call it from their event handlers;
 * none of them touches sockets or knows how many instances there are.
 */
@Injectable()
export class RealtimeService {
  private readonly logger = new Logger('Realtime');
  private readonly failureLog = new LogThrottle(FAILURE_LOG_EVERY_MS);

  constructor(private readonly fanOut: FanOut) {}

  /**
   * Delivers `event` to every connection of `userIds`, on every instance. Serialises it once.
   * Never throws: a fan-out failure (Redis away) is logged, local sockets have it already, and
   * clients on other instances catch up with `sync`.
   */
  async send(userIds: Iterable<string>, event: ServerEvent, options: SendOptions = {}): Promise<void> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return;
    const { stream, after, behind, behindSeq, endsStream, streamGone, startsStream, version, whileIn, ...target } = options;
    const repair = stream?.repair === true;
    await this.publish({
      kind: 'deliver',
      target: { userIds: repair ? [] : users, ...target },
      ...(repair ? { repairUserIds: users } : {}),
      frame: JSON.stringify(event),
      ...(stream ? { stream } : {}),
      ...(after ? { after } : {}),
      ...(behind ? { behind } : {}),
      ...(behind && behindSeq !== undefined ? { behindSeq } : {}),
      ...(behind && endsStream ? { ends: true as const } : {}),
      ...(behind && endsStream && streamGone ? { gone: true as const } : {}),
      ...(behind && behindSeq !== undefined && startsStream && !endsStream ? { starts: true as const } : {}),
      ...(behind && version ? { version } : {}),
      ...(behind && whileIn ? { whileIn: true as const } : {}),
    });
  }

  /** Closes every socket of these sessions, on every instance (4401 unless told otherwise). */
  async closeSessions(userId: string, sessionIds: string[], reason: string, code: number = CloseCode.UNAUTHENTICATED): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.publish({ kind: 'close', target: { userIds: [userId], sessionIds }, code, reason });
  }

  private async publish(message: FanOutMessage): Promise<void> {
    try {
      await this.fanOut.publish(message);
    } catch (error) {
      const held = this.failureLog.pass();
      if (held === undefined) return;
      // A timed-out publish may still go through late; a refused one is lost to the other instances.
      this.logger.warn(
        `Fan-out (${this.fanOut.mode}) failed${heldBackNote(held)}: ${errorMessage(error)}; sockets on other instances may miss this ${message.kind}, or get it late. Check REDIS_URL and that Redis is up.`,
      );
    }
  }
}
