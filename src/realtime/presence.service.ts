import { within } from '../common/concurrency/within.js';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { BackgroundWork } from '../common/concurrency/background-work.js';
import { heldBackNote, LogThrottle } from '../common/logging/log-throttle.js';
import { FailureWindow } from '../common/concurrency/failure-window.js';
import { KeyedSequencer } from '../common/concurrency/keyed-sequencer.js';
import { LastSeenRecorder } from './last-seen-recorder.js';
import { PresenceAudience } from './presence-audience.js';
import { type PresenceEntry, PresenceStore, REFRESH_BATCH } from './presence-store.js';
import { RealtimeService } from './realtime.service.js';
import { errorMessage } from '../common/errors/error-message.js';
import { providedAnywhere } from '../common/provided-anywhere.js';

/**
 * After the store fails a connect or disconnect (Redis down or stalled: each call waits out the
 * command timeout), `ready` does not wait for the store's answer to the next connects for this
 * long (a heartbeat that reaches the store ends it sooner): a socket is ready at once rather than
 * a second later. The store is still asked, in the background, in the user's turn; what it does
 * not answer is settled at the next sweeping heartbeat, as after any failure (`uncertain`).
 */
const STORE_AWAY_MS = 5_000;
/** A failing store or database fails every connect and disconnect: one line this often, with a count. */
const FAILURE_LOG_EVERY_MS = 10_000;

/**
 * Turns connections opening and closing into presence: online while a user has a connection on
 * any instance. Both transitions stamp users.last_seen_at (coming online: now; going offline: the
 * moment it happened), so that GET /users/:id and the `presence` frame always carry the same
 * time, and both are announced as `presence` frames to the user's contacts, when a
 * PresenceAudience says who they are.
 */
@Injectable()
export class PresenceService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Presence');
  private audience?: PresenceAudience;
  /** Per user, the tail of their presence work: a quick reconnect never overtakes the disconnect before it. */
  private readonly chains = new KeyedSequencer();
  private readonly pending = new BackgroundWork();
  /**
   * Users whose connect or disconnect the store did not answer (Redis timed out): it may still
   * have done it, later, so whether they came or went is unknown and was not announced. The next
   * heartbeat that reaches the store reads where they stand and announces that.
   */
  private readonly uncertain = new Set<string>();
  /** A store failure a moment ago: connects do not wait for the store's answer (STORE_AWAY_MS). */
  private readonly storeAway = new FailureWindow(STORE_AWAY_MS);
  private readonly storeFailures = new LogThrottle(FAILURE_LOG_EVERY_MS);
  private readonly updateFailures = new LogThrottle(FAILURE_LOG_EVERY_MS);

  constructor(
    private readonly store: PresenceStore,
    private readonly lastSeen: LastSeenRecorder,
    private readonly realtime: RealtimeService,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** The audience comes from the chats module, when it runs. */
  onApplicationBootstrap(): void {
    this.audience = providedAnywhere(this.moduleRef, PresenceAudience);
    if (!this.audience)
      this.logger.log('No PresenceAudience provided (chats module off): presence changes are recorded but not broadcast.');
  }

  /**
   * Resolves once the connection counts (so `ready` means "online"), or at once while the store
   * is failing (STORE_AWAY_MS); the announcement follows in the background.
   */
  connected(entry: PresenceEntry): Promise<void> {
    return new Promise((counted) => {
      if (this.storeAway.open) counted();
      this.forUser(entry.userId, async () => {
        let cameOnline: boolean | undefined;
        try {
          cameOnline = await this.uncertainOnFailure(entry.userId, () => this.store.connected(entry));
        } finally {
          counted();
        }
        if (cameOnline) await this.announce(entry.userId, true);
      });
    });
  }

  disconnected(entry: PresenceEntry): void {
    this.forUser(entry.userId, async () => {
      if (await this.uncertainOnFailure(entry.userId, () => this.store.disconnected(entry))) await this.announce(entry.userId, false);
    });
  }

  /** The store's answer; undefined when it failed: the user is then settled at the next sweeping heartbeat. */
  private async uncertainOnFailure<T>(userId: string, change: () => Promise<T>): Promise<T | undefined> {
    try {
      return await change();
    } catch (error) {
      this.uncertain.add(userId);
      this.storeAway.failed();
      const held = this.storeFailures.pass();
      if (held !== undefined) {
        this.logger.warn(
          `Presence store failed a connect or disconnect${heldBackNote(held)}: ${errorMessage(error)}; those users are settled at the next heartbeat, and sockets are ready without waiting for the store for ${STORE_AWAY_MS / 1000} s. Check REDIS_URL and that Redis is up.`,
        );
      }
      return undefined;
    }
  }

  /** Announces where the users left uncertain stand now, each in its turn with their other presence work. */
  private settleUncertain(): void {
    for (const userId of this.uncertain) {
      this.uncertain.delete(userId);
      this.forUser(userId, async () => {
        try {
          await this.announce(userId, (await this.store.onlineAmong([userId])).has(userId));
        } catch (error) {
          this.uncertain.add(userId); // the next heartbeat tries again
          throw error;
        }
      });
    }
  }

  /**
   * Keeps these connections of this instance counted; with `sweep`, also announces users whose
   * instance died.
   */
  async heartbeat(entries: PresenceEntry[], sweep = true, stillOpen: (entry: PresenceEntry) => boolean = () => true): Promise<void> {
    try {
      for (let i = 0; i < entries.length; i += REFRESH_BATCH) {
        // Each batch as it stands when it goes: a connection that closed while an earlier batch
        // was on its way has been forgotten already, and refreshing it would bring it back.
        const batch = entries.slice(i, i + REFRESH_BATCH).filter(stillOpen);
        if (batch.length === 0) continue;
        // Users the store had lost track of (and may have announced offline) are online after all.
        for (const userId of await this.store.refresh(batch)) this.forUser(userId, () => this.announce(userId, true));
        this.storeAway.succeeded(); // it answers again
      }
      if (!sweep) return;
      for (const { userId, lastSeenAt } of await this.store.sweep()) this.forUser(userId, () => this.announce(userId, false, lastSeenAt));
      this.storeAway.succeeded();
      // The store answers again: once a beat, whether this instance has sockets left or not.
      this.settleUncertain();
    } catch (error) {
      this.logger.warn(`Presence heartbeat failed: ${errorMessage(error)}`);
    }
  }

  /** Resolves when all presence work started so far, or meanwhile, is done (or `timeoutMs` passed). */
  async drain(timeoutMs: number): Promise<void> {
    await within(this.pending.settled(), timeoutMs);
  }

  private forUser(userId: string, work: () => Promise<void>): void {
    void this.pending.track(
      this.chains.run(userId, work).catch((error: unknown) => {
        const held = this.updateFailures.pass();
        if (held === undefined) return;
        this.logger.warn(`Presence update for user ${userId} failed${heldBackNote(held)}: ${errorMessage(error)}`);
      }),
    );
  }

  /** `at`: when the change happened, if not now (a user whose instance died was last seen at its last heartbeat). */
  private async announce(userId: string, online: boolean, at = new Date()): Promise<void> {
    // The frame says what the profile says: the stored time, should a later stamp have come first.
    const seen = (await this.lastSeen.stampLastSeen(userId, at)) ?? at;
    const contacts = this.audience ? await this.audience.contactsOf(userId) : [];
    if (contacts.length === 0) return;
    // Back online on another instance meanwhile (its announcement may already be out): saying
    // "offline" now would leave contacts with the wrong state. Checked last, just before sending;
    // a return in the moment between the two can still lose the race.
    if (!online && (await this.store.onlineAmong([userId])).has(userId)) return;
    await this.realtime.send(contacts, { type: 'presence', userId, online, lastSeenAt: seen.toISOString() });
  }
}
