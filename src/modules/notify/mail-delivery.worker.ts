import { within } from '../../common/concurrency/within.js';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import type { ClaimedMail } from './domain/mail-log.js';
import { messageIdFor } from './domain/mail.js';
import { MAX_SEND_ATTEMPTS, retryDelaySeconds } from './domain/retry-policy.js';
import { MailLogRepository } from './mail-log.repository.js';
import { MailRefusedError, MailSendInterruptedError, MailServerUnreachableError, MailTransport } from './mail-transport.js';
import { errorMessage } from '../../common/errors/error-message.js';

/**
 * How long a claim lasts: well beyond the SMTP adapter's own timeouts for one send. A row is
 * claimed right before its own send, never in a batch with others, so the lease covers one send.
 */
const LEASE_SECONDS = 300;
/** Even with nothing due the log is looked at this often, to pick up what other instances left. */
const MAX_IDLE_MS = 30_000;
/** Floor between cycles, so rows another instance holds this instant cannot make us spin. */
const MIN_PAUSE_MS = 200;
/**
 * While emails wait for an unreachable server, it is checked this often (a connection, EHLO and
 * the login if any; no mail), so that its return sends them within this time rather than at their
 * next backoff.
 */
const PROBE_EVERY_MS = 30_000;
/**
 * How long a shutdown waits for the send under way. A server that stopped answering would
 * otherwise hold it for the transport's socket timeout (60 s), past any orchestrator's patience.
 */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * Sends what the mail log holds, in this process: claims due rows, hands them to the transport,
 * records the outcome and sleeps until the next row is due. Any number of instances may run one
 * against the same database; claims keep them from sending a message twice, unless one send
 * outlasts its lease or the process dies between the server accepting a message and the log
 * recording it (delivery is at least once; the Message-ID stays the same across attempts).
 */
@Injectable()
export class MailDeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Mail');
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private busy = false;
  private again = false;
  private current: Promise<void> = Promise.resolve();
  /** A setting, not state: tests shorten it to see what happens when a send outlasts it. */
  leaseSeconds = LEASE_SECONDS;
  /** A setting, not state: tests shorten it to see an outage end. */
  probeEveryMs = PROBE_EVERY_MS;
  private lastProbeAt = 0;
  private lastHastenAt = 0;
  /** Resolves when the shutdown begins: a check of the server under way is not waited for. */
  private readonly stopping: Promise<void>;
  private stop!: () => void;
  /** As far as this instance knows, emails wait for the server (see probe). */
  private waitingForServer = false;

  constructor(
    private readonly config: AppConfig,
    private readonly log: MailLogRepository,
    private readonly transport: MailTransport,
  ) {
    this.stopping = new Promise((resolve) => (this.stop = resolve));
  }

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.wake();
  }

  /**
   * Stops before the database closes (onModuleDestroy precedes every shutdown hook) and lets the
   * current send finish, for up to SHUTDOWN_GRACE_MS: then the send is cut short and the message
   * stays due, not failed even on its last attempt (so the server may get it twice, if it had taken it).
   */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.stop();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!(await within(this.current, SHUTDOWN_GRACE_MS)))
      this.logger.warn(`The email being sent had not gone out ${SHUTDOWN_GRACE_MS / 1000} s into the shutdown; cutting it short.`);
    await this.transport.close();
    await this.current;
  }

  /** Look at the log now rather than at the next scheduled time, e.g. right after a message is queued. */
  wake(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.current = this.run();
  }

  /** One pass over everything due now; resolves when it is done. Exposed for tests and tooling. */
  async drain(): Promise<void> {
    for (const expired of await this.log.failExpired('gave up: the link in it expired before it could be delivered')) {
      this.logger.warn(`Gave up on ${expired.template} email ${expired.id} to ${expired.recipient}: its link expired before delivery.`);
    }
    for (const older of await this.log.failSuperseded('dropped: a newer email of the same kind to the same user replaced it')) {
      this.logger.log(`Dropped ${older.template} email ${older.id} to ${older.recipient}: a newer one replaced it (only its link works).`);
    }
    // One message per claim (see claimNext).
    while (!this.stopped) {
      const mail = await this.log.claimNext(this.leaseSeconds);
      if (!mail) return;
      await this.deliver(mail);
    }
  }

  private async run(): Promise<void> {
    let pause = MAX_IDLE_MS;
    try {
      do {
        this.again = false;
        pause = await this.cycle();
      } while (this.again && !this.stopped);
    } finally {
      this.busy = false;
      if (!this.stopped) this.timer = setTimeout(() => this.wake(), pause);
    }
  }

  /** Drains (again if the server was found back), then returns how long to sleep. */
  private async cycle(): Promise<number> {
    try {
      await this.drain();
      if (await this.probe()) await this.drain();
      const seconds = await this.log.secondsUntilNextDue();
      const pause = seconds === undefined ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(MIN_PAUSE_MS, Math.ceil(seconds * 1000)));
      if (!this.waitingForServer) return pause;
      return Math.min(pause, Math.max(MIN_PAUSE_MS, this.lastProbeAt + this.probeEveryMs - Date.now()));
    } catch (error) {
      this.logger.error(`The mail worker could not read the mail log, trying again in ${MAX_IDLE_MS / 1000} s: ${errorMessage(error)}`);
      return MAX_IDLE_MS;
    }
  }

  /**
   * When emails wait for an unreachable server and the last check is probeEveryMs old, checks the
   * server; true when it answered and made them due. An attempt made due this way that finds the
   * server unreachable again is free (see recordFailure), so a server that answers checks but
   * drops sends costs no attempts; one that refuses mail costs each email one attempt, after which
   * it no longer waits for the server (a refusal is not an outage). A shutdown does not wait for
   * the check (a server that accepts the connection and then says nothing would hold it for the
   * transport's socket timeout).
   */
  private async probe(): Promise<boolean> {
    if (Date.now() - this.lastProbeAt < this.probeEveryMs) return false;
    this.waitingForServer = await this.log.anyWaitingForServer();
    if (!this.waitingForServer) return false;
    this.lastProbeAt = Date.now();
    const answered = await Promise.race([
      this.transport.check().then(
        () => true,
        () => false, // still down: the retries keep their times
      ),
      this.stopping.then(() => false),
    ]);
    return answered && (await this.hastenWaiting('answers again')) > 0;
  }

  /**
   * The server took an email or answered a check: what waited for it is due now. At most once per
   * probeEveryMs, so that a server that takes some emails and drops others is not sent every
   * waiting email again after each one it takes.
   */
  private async hastenWaiting(how: string): Promise<number> {
    if (this.stopped || Date.now() - this.lastHastenAt < this.probeEveryMs) return 0;
    this.lastHastenAt = Date.now();
    const due = await this.log.hastenWaitingForServer();
    if (due > 0) {
      this.waitingForServer = false;
      this.logger.log(`The mail server ${how}: ${due} email(s) that waited for it are due now.`);
    }
    return due;
  }

  private async deliver(mail: ClaimedMail): Promise<void> {
    try {
      await this.transport.send(Object.assign({}, mail, { messageId: messageIdFor(mail.id, mail.from) }));
    } catch (error) {
      if (error instanceof MailSendInterruptedError) {
        if (!(await this.log.release(mail.id, mail.attempts, error.message)))
          this.lostClaim(`${mail.template} email ${mail.id}`, error.message);
        else
          this.logger.warn(
            `${mail.template} email ${mail.id} to ${mail.to.address}: ${error.message} It stays due, to be sent at the next start.`,
          );
        return;
      }
      await this.recordFailure(mail, error);
      return;
    }
    if (!(await this.log.markSent(mail.id, mail.attempts))) {
      this.logger.warn(
        `${mail.template} email ${mail.id} was sent, but its claim had lapsed meanwhile (the send outlasted the lease): it may be sent twice.`,
      );
    }
    await this.hastenWaiting('took an email');
  }

  private async recordFailure(mail: ClaimedMail, error: unknown): Promise<void> {
    const reason = errorMessage(error);
    const what = `${mail.template} email ${mail.id} to ${mail.to.address}`;
    const unreachable = error instanceof MailServerUnreachableError;
    if (unreachable && mail.hastenedFrom) {
      // Brought forward because the server seemed back, and it is not: a free attempt, and the
      // retry stays where the backoff had put it.
      if (!(await this.log.markStillWaiting(mail.id, mail.attempts, reason, mail.hastenedFrom))) return this.lostClaim(what, reason);
      this.waitingForServer = true;
      this.logger.warn(
        `Could not send ${what}: the server is still unreachable. This early attempt does not count; the next is due at ${mail.hastenedFrom.toISOString()} as before. ${reason}`,
      );
      return;
    }
    const refused = error instanceof MailRefusedError;
    const counted = mail.attempts - mail.freeAttempts;
    const delay = refused ? undefined : retryDelaySeconds(counted, this.config.mail.retryBaseSeconds);
    if (delay === undefined) {
      if (!(await this.log.markFailed(mail.id, mail.attempts, reason))) return this.lostClaim(what, reason);
      const after = refused ? 'the server refused it for good' : `${counted} attempts`;
      this.logger.error(`Gave up on ${what} after ${after}: ${reason}`);
      return;
    }
    if (!(await this.log.markRetry(mail.id, mail.attempts, reason, delay, unreachable))) return this.lostClaim(what, reason);
    if (unreachable) this.waitingForServer = true;
    this.logger.warn(`Could not send ${what} (attempt ${counted} of ${MAX_SEND_ATTEMPTS}); retrying in ${delay} s. ${reason}`);
  }

  /** The claim lapsed while we sent (the send outlasted the lease): the row's new owner decides. */
  private lostClaim(what: string, reason: string): void {
    this.logger.warn(
      `Could not send ${what}: ${reason} Its claim lapsed meanwhile (the attempt outlasted the lease), so the row is left to its new owner.`,
    );
  }
}
