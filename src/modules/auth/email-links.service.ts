import { type BeforeApplicationShutdown, Injectable, Logger, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { DataSource, type EntityManager } from 'typeorm';
import { BackgroundWork } from '../../common/concurrency/background-work.js';
import { KeyedSequencer } from '../../common/concurrency/keyed-sequencer.js';
import { ConflictError, UnavailableError, ValidationError } from '../../common/errors/domain-error.js';
import { UserRepository } from '../users/user.repository.js';
import { MailOutbox, type MailRequest } from '../notify/mail-outbox.js';
import type { MailTemplateName } from '../notify/domain/mail.js';
import { AuthRateLimiter } from './auth-rate-limiter.js';
import { AuthTokenRepository } from './auth-token.repository.js';
import { EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, PASSWORD_RESET_TOKEN_TTL_SECONDS } from './domain/token-lifetimes.js';
import type { AuthTokenPurpose } from './infrastructure/persistence/typeorm/auth-token.entity.js';
import { PasswordResetRequestedEvent } from './events/password-reset-requested.event.js';
import { SessionsRevokedEvent } from './events/session-revoked.event.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionRepository } from './session.repository.js';
import { newEmailToken, sha256 } from './token.service.js';
import { errorMessage } from '../../common/errors/error-message.js';
import { sessionEnded } from './auth-errors.js';

const invalidToken = () =>
  new ValidationError(
    'The link is invalid, already used or expired; ask for a new one.',
    [{ field: 'token', message: 'token is invalid or expired' }],
    'INVALID_TOKEN',
  );

/**
 * Who an email goes to. The name, which whoever signed up chose, is left out (of the greeting and
 * the To header) until the address is proven to be theirs: anyone can sign up with someone else's
 * address, and a name like "Claim your prize at https://…" would reach that inbox in Parley's mail.
 */
export function addressee(address: string, name: string, confirmed: boolean): { address: string; name: string } {
  return { address, name: confirmed ? name : '' };
}

/** Each emailed link's template and how long its token stays valid, by what the token is for. */
const LINK_EMAILS: Record<AuthTokenPurpose, { template: MailTemplateName; ttlSeconds: number }> = {
  confirm_email: { template: 'confirm-email', ttlSeconds: EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS },
  reset_password: { template: 'reset-password', ttlSeconds: PASSWORD_RESET_TOKEN_TTL_SECONDS },
};

/**
 * Stores the link's token (its hash) and queues the email carrying it, both in `tx`. The caller
 * wakes the mail sender once `tx` has committed.
 */
export async function queueLinkEmail(
  tokens: AuthTokenRepository,
  mail: MailOutbox,
  purpose: AuthTokenPurpose,
  link: { userId: string; to: MailRequest['to']; token: string },
  tx: EntityManager,
): Promise<void> {
  const { template, ttlSeconds } = LINK_EMAILS[purpose];
  await tokens.create(link.userId, purpose, sha256(link.token), ttlSeconds, tx);
  await mail.queue({ template, to: link.to, userId: link.userId, token: link.token }, tx);
}

/**
 * The emailed links: confirming an address (and asking for the link again), and resetting a
 * password (asking for the link, and using it). Sign-up queues the first confirmation email itself
 * (AuthService), in the transaction that makes the account.
 */
@Injectable()
export class EmailLinksService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Auth');
  /** Reset requests still being worked on after their answer; shutdown waits for them. */
  private readonly resetsInProgress = new BackgroundWork();
  /** One email's reset requests are worked on in the order they were answered, so the newest link is the one that works. */
  private readonly resetsByEmail = new KeyedSequencer();
  private closing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly emailTokens: AuthTokenRepository,
    private readonly hasher: PasswordHasher,
    private readonly limiter: AuthRateLimiter,
    private readonly events: EventBus,
    /** Absent when the notify module is switched off. */
    @Optional() private readonly mail?: MailOutbox,
  ) {}

  /** One transaction: a token spent without the address confirmed would leave the user no way to confirm it. */
  async confirmEmail(token: string): Promise<void> {
    const confirmed = await this.dataSource.transaction(async (tx) => {
      const userId = await this.emailTokens.consume('confirm_email', sha256(token), tx);
      if (userId) await this.users.confirmEmail(userId, tx);
      return userId !== undefined;
    });
    if (!confirmed) throw invalidToken();
  }

  /**
   * A new confirmation email for the caller's own, still unconfirmed, address. Only the newest
   * link works: the older ones are spent, and an older email still waiting to go out is dropped.
   */
  async resendConfirmation(userId: string): Promise<void> {
    // Confirmed already (with mail off, every account made since is): say so first, and without
    // counting it, so a page that missed the confirmation learns it.
    const alreadyConfirmed = () => new ConflictError('EMAIL_ALREADY_CONFIRMED', 'This email address is already confirmed.');
    if ((await this.users.findById(userId))?.emailConfirmedAt) throw alreadyConfirmed();
    const mail = this.mail;
    if (!mail)
      throw new UnavailableError('MAIL_DISABLED', 'Confirming an email needs email, and the notify module is switched off on this server.');
    await this.limiter.consumeConfirmationResend(userId);
    const token = newEmailToken();
    const queued = await this.dataSource.transaction(async (tx) => {
      // As for reset links: one account's links are made one at a time, across instances, so
      // the emails are queued in the order their links were made.
      await this.emailTokens.lockLinksOf(userId, 'confirm_email', tx);
      // Spending the old links first waits for a confirmation using one of them to commit (it
      // holds its token row), so the read after it sees that confirmation.
      await this.emailTokens.invalidateUnused(userId, 'confirm_email', tx);
      const user = await this.users.mailContact(userId, tx);
      if (!user) throw sessionEnded();
      if (user.confirmed) return false;
      await queueLinkEmail(this.emailTokens, mail, 'confirm_email', { userId, to: addressee(user.email, user.name, false), token }, tx);
      return true;
    });
    if (!queued) throw alreadyConfirmed();
    mail.wake();
  }

  /**
   * Always answers the same way, and as soon as the rate limit has counted the request: the account
   * lookup and the new link are made after the answer, so neither its content nor its timing tells
   * anyone which emails have accounts (a known address would otherwise answer later, by the
   * transaction that stores the link).
   */
  async forgotPassword(email: string): Promise<void> {
    const mail = this.mail;
    if (!mail)
      throw new UnavailableError('MAIL_DISABLED', 'Password reset needs email, and the notify module is switched off on this server.');
    await this.limiter.consumePasswordReset(email);
    const work = this.resetsInProgress.track(
      this.resetsByEmail
        .run(email, () => this.sendResetLink(email, mail))
        .catch((error: unknown) =>
          this.logger.error(
            `Could not make a password reset link for a reset request (${errorMessage(error)}); the request was answered 202 and sends no email: the user can ask again.`,
          ),
        ),
    );
    // Shutting down: the database closes once the shutdown hooks are done, while the HTTP server
    // still answers until after them; so a late request keeps its answer until its link is made.
    if (this.closing) await work;
  }

  /** Resolves once every reset request answered so far, and any answered meanwhile, has made its link (or failed). */
  resetRequestsSettled(): Promise<void> {
    return this.resetsInProgress.settled();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.resetRequestsSettled();
  }

  private async sendResetLink(email: string, mail: MailOutbox): Promise<void> {
    const user = await this.users.findByEmail(email);
    if (!user) return;
    const token = newEmailToken();
    await this.dataSource.transaction(async (tx) => {
      // Requests for one account on other instances wait here, so each one's invalidation sees the
      // links made before it, and the emails are queued in the order the links were made (the
      // mail worker drops a reset email once a newer one is queued). An advisory lock rather than
      // the user's row: a reset holds its token row and then updates the user, so locking the row
      // here in the other order could deadlock, and it would hold up sign-ins (their sessions
      // reference the row) as well.
      await this.emailTokens.lockLinksOf(user.id, 'reset_password', tx);
      await this.emailTokens.invalidateUnused(user.id, 'reset_password', tx);
      const to = addressee(user.email, user.name, user.emailConfirmedAt !== null);
      await queueLinkEmail(this.emailTokens, mail, 'reset_password', { userId: user.id, to, token }, tx);
    });
    mail.wake();
    this.events.publish(new PasswordResetRequestedEvent(user.id, user.email, user.name, token));
  }

  /** Sets the new password and ends every session: whoever knew the old one is signed out. */
  async resetPassword(token: string, password: string): Promise<void> {
    const passwordHash = await this.hasher.hash(password);
    const result = await this.dataSource.transaction(async (tx) => {
      const userId = await this.emailTokens.consume('reset_password', sha256(token), tx);
      if (!userId) return undefined;
      const email = await this.users.resetPassword(userId, passwordHash, tx);
      if (email === undefined) return undefined; // the account was deleted after the link was sent
      const revoked = await this.sessions.revokeAllOf(userId, 'password_reset', tx);
      return { userId, email, revoked };
    });
    if (!result) throw invalidToken();
    await this.limiter.clearFailedSignInsAfterReset(result.email);
    this.events.publish(new SessionsRevokedEvent(result.userId, result.revoked));
  }
}
