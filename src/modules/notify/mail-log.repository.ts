import type { EntityManager } from 'typeorm';
import type { ClaimedMail, DroppedMail, NewMail } from './domain/mail-log.js';

/**
 * The mail log: every message Parley sends, its state and its retries. Several instances share
 * it, so claiming is atomic and every later write is fenced by the attempt it belongs to: a
 * worker whose claim lapsed (it took longer than the lease) cannot overwrite a newer attempt.
 */
export abstract class MailLogRepository {
  /** Records a pending message, in `tx` when given: it exists only if that transaction commits. */
  abstract add(mail: NewMail, tx?: EntityManager): Promise<void>;

  /**
   * Claims the next due message (never one superseded by a newer message, see SUPERSEDED_BY_NEWER)
   * for one attempt, counting the attempt and leasing it for `leaseSeconds` (after which an
   * instance that died mid-send no longer holds it); undefined when none is due. One at a time: a
   * batch claimed at once would see its last rows' leases run out while the first ones are still
   * being sent to a slow server, and another instance send them too.
   */
  abstract claimNext(leaseSeconds: number): Promise<ClaimedMail | undefined>;

  /** Each returns false when the claim was lost (the row moved on without us). */
  abstract markSent(id: string, attempt: number): Promise<boolean>;
  /** `waitsForServer`: the server was unreachable, so hastenWaitingForServer may bring the retry forward. */
  abstract markRetry(id: string, attempt: number, error: string, delaySeconds: number, waitsForServer: boolean): Promise<boolean>;
  abstract markFailed(id: string, attempt: number, error: string): Promise<boolean>;
  /**
   * Makes the message due again at once, not failed: its attempt was cut short (by a shutdown).
   * The attempt still counts: attempts only ever grow, since every write is fenced by them.
   */
  abstract release(id: string, attempt: number, reason: string): Promise<boolean>;

  /**
   * An attempt brought forward (hastenWaitingForServer) found the server unreachable again: the
   * message is due again when it was before, still waiting for the server, and the attempt is
   * counted as free.
   */
  abstract markStillWaiting(id: string, attempt: number, error: string, dueAt: Date): Promise<boolean>;

  /**
   * Makes due at once the retries of messages that failed because the server was unreachable
   * (markRetry's `waitsForServer`), none of them claimed right now, keeping when each was due
   * (`hastenedFrom`); returns how many.
   */
  abstract hastenWaitingForServer(): Promise<number>;

  /** Whether a pending message's retry waits for the server to be reachable again. */
  abstract anyWaitingForServer(): Promise<boolean>;

  /** Fails pending messages whose link has expired; returns them for the log. */
  abstract failExpired(reason: string): Promise<DroppedMail[]>;

  /** Fails due pending messages superseded by a newer one to the same user; returns them for the log. */
  abstract failSuperseded(reason: string): Promise<DroppedMail[]>;

  /** Seconds until the earliest pending message is due (negative when overdue), or undefined when none. */
  abstract secondsUntilNextDue(): Promise<number | undefined>;

  /** Removes up to `limit` sent or failed messages made more than `days` ago; returns how many went. */
  abstract removeFinished(days: number, limit: number): Promise<number>;
}
