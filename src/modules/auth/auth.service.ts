import { randomUUID } from 'node:crypto';
import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';
import type { AuthUser } from '../../common/auth/auth-user.js';
import { BackgroundWork } from '../../common/concurrency/background-work.js';
import { KeyedSequencer } from '../../common/concurrency/keyed-sequencer.js';
import { ConflictError, NotFoundError, UnauthenticatedError, UnavailableError, ValidationError } from '../../common/errors/domain-error.js';
import { normaliseName } from '../users/domain/user.js';
import { UserRepository } from '../users/user.repository.js';
import { toMe } from '../users/users.service.js';
import { AuthRateLimiter } from './auth-rate-limiter.js';
import { AuthTokenRepository } from './auth-token.repository.js';
import { EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, PASSWORD_RESET_TOKEN_TTL_SECONDS } from './domain/token-lifetimes.js';
import type { AuthResultDto, SessionDto, SignInDto, SignUpDto } from './dto/auth.dto.js';
import { PasswordResetRequestedEvent } from './events/password-reset-requested.event.js';
import { SessionsRevokedEvent } from './events/session-revoked.event.js';
import { UserSignedUpEvent } from './events/user-signed-up.event.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionRepository } from './session.repository.js';
import { newEmailToken, sha256, TokenService } from './token.service.js';
import type { MeDto } from '../users/dto/user.dto.js';
import { AppConfig } from '../../config/app-config.js';
import { MailOutbox } from '../notify/mail-outbox.js';
import { SEED_PASSWORD, SEED_USERS } from '../seeding/seed-data.js';

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

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
function addressee(address: string, name: string, confirmed: boolean): { address: string; name: string } {
  return { address, name: confirmed ? name : '' };
}

@Injectable()
export class AuthService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Auth');
  /** Reset requests still being worked on after their answer; shutdown waits for them. */
  private readonly resetsInProgress = new BackgroundWork();
  /** One email's reset requests are worked on in the order they were answered, so the newest link is the one that works. */
  private readonly resetsByEmail = new KeyedSequencer();
  private closing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly emailTokens: AuthTokenRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly limiter: AuthRateLimiter,
    private readonly events: EventBus,
    /** Absent when the notify module is switched off. */
    @Optional() private readonly mail?: MailOutbox,
  ) {
    // Whether mail is on decides whether new accounts start confirmed: never leave that to a
    // provider that failed to show up.
    if (config.isEnabled('notify') !== (mail !== undefined))
      throw new Error(
        `MODULES ${config.isEnabled('notify') ? 'lists' : 'leaves out'} notify, yet MailOutbox is ${mail ? 'provided' : 'missing'}.`,
      );
  }

  /**
   * Creates the account and queues its confirmation email in one transaction: an account never
   * exists without its email. With mail switched off it starts confirmed, since no email can
   * confirm it.
   */
  async signUp(input: SignUpDto): Promise<MeDto> {
    const mail = this.mail;
    const passwordHash = await this.hasher.hash(input.password);
    const id = randomUUID();
    const token = newEmailToken();
    const user = await this.dataSource.transaction(async (tx) => {
      const created = await this.users.create(
        { id, email: input.email, name: normaliseName(input.name), passwordHash, emailConfirmedAt: mail ? null : new Date() },
        tx,
      );
      if (mail) {
        await this.emailTokens.create(id, 'confirm_email', sha256(token), EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, tx);
        await mail.queue({ template: 'confirm-email', to: addressee(created.email, created.name, false), userId: id, token }, tx);
      }
      return created;
    });
    if (mail) {
      mail.wake();
      this.events.publish(new UserSignedUpEvent(user.id, user.email, user.name, token));
    }
    return toMe(user);
  }

  async signIn(input: SignInDto, client: ClientInfo): Promise<AuthResultDto> {
    const user = await this.users.findByEmail(input.email);
    const generation = passwordGeneration(user?.passwordHash);
    await this.limiter.countSignInAttempt(input.email, client.ip, generation);
    const check = user ? await this.hasher.verify(user.passwordHash, input.password) : await this.hasher.burn(input.password);
    if (!user || !check.matches || this.isSeedPasswordRefused(input.password)) {
      throw new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or password is wrong.');
    }
    const sessionId = randomUUID();
    const issued = this.tokens.issue(user.id, sessionId);
    const session = {
      id: sessionId,
      userId: user.id,
      refreshTokenHash: issued.refreshTokenHash,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      ip: client.ip,
      expiresAt: issued.refreshExpiresAt,
    };
    let opened = await this.sessions.createForPassword(session, user.passwordHash);
    if (!opened) {
      // The hash changed while the password was checked: a reset, after which the old password
      // no longer signs in; or another sign-in that stored today's hash of this same password,
      // after which it still does.
      const now = await this.users.findById(user.id);
      if (now && now.passwordHash !== user.passwordHash && (await this.hasher.verify(now.passwordHash, input.password)).matches)
        opened = await this.sessions.createForPassword(session, now.passwordHash);
    }
    if (!opened) throw new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or password is wrong.');
    await this.limiter.clearFailedSignIns(input.email, client.ip, generation);
    if (check.outdated) await this.rehashPassword(user.id, user.passwordHash, input.password);
    return { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn, user: toMe(user) };
  }

  /** Under PRODUCTION, seed accounts a LOCAL start left behind are closed (see closeSeedAccounts). */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.isLocal) await this.closeSeedAccounts();
  }

  /**
   * A database seeded by a LOCAL start keeps the seed accounts, with their public password, when
   * it goes on under PRODUCTION (a compose volume first started under LOCAL, say). Sign-in refuses
   * that password there; this also ends the sessions they opened before, which outlive the switch
   * when the token secrets did not change. Each one still on the seed password is named.
   */
  private async closeSeedAccounts(): Promise<void> {
    for (const { email } of SEED_USERS) {
      const user = await this.users.findByEmail(email);
      if (!user || !(await this.hasher.verify(user.passwordHash, SEED_PASSWORD)).matches) continue;
      const ended = await this.sessions.revokeAllOf(user.id, 'seed_password');
      if (ended.length > 0) this.events.publish(new SessionsRevokedEvent(user.id, ended, false));
      this.logger.warn(
        `${email} is a seed account from a start under LOCAL, still with the public password "${SEED_PASSWORD}": under ${this.config.appEnv} that password signs nobody in${ended.length ? `, and its ${ended.length} session(s) were ended` : ''}. A password reset gives it one of its own.`,
      );
    }
  }

  /**
   * The LOCAL seed accounts' password is public: under PRODUCTION it opens nothing (see
   * closeSeedAccounts). No other account can have it, since the password rules refuse it.
   */
  private isSeedPasswordRefused(password: string): boolean {
    return !this.config.isLocal && password === SEED_PASSWORD;
  }

  /**
   * The password just matched a hash made the old way (of the password as typed rather than its
   * NFC form, or with other argon2 parameters): store today's hash of it, unless the password was
   * reset meanwhile. A failure here costs nothing but the upgrade, so it is logged, not thrown.
   */
  private async rehashPassword(userId: string, from: string, password: string): Promise<void> {
    try {
      await this.users.replacePasswordHash(userId, from, await this.hasher.hash(password));
    } catch (error) {
      this.logger.warn({ msg: 'Could not store a new hash of a password', userId, error: String(error) });
    }
  }

  /**
   * Rotates the refresh token. Each one works once: presenting a used one means it leaked (or a
   * client is confused), so the whole session is revoked.
   */
  async refresh(refreshToken: string | undefined): Promise<AuthResultDto> {
    if (!refreshToken)
      throw new UnauthenticatedError('UNAUTHENTICATED', 'No refresh token: send { refreshToken } or the refresh_token cookie.');
    const claims = this.tokens.verifyRefresh(refreshToken);
    const session = await this.sessions.findLive(claims.sid);
    if (!session || session.userId !== claims.sub)
      throw new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');
    const issued = this.tokens.issue(claims.sub, claims.sid);
    if (!(await this.sessions.rotate(claims.sid, claims.jtiHash, issued.refreshTokenHash, issued.refreshExpiresAt))) {
      // Ended meanwhile (a sign-out, a revocation) rather than a token used twice: say so.
      if (!(await this.sessions.findLive(claims.sid)))
        throw new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');
      await this.revokeSessions(claims.sub, [claims.sid], 'refresh_reused');
      throw new UnauthenticatedError(
        'REFRESH_REUSED',
        'This refresh token was already used; the session has been revoked for safety. Sign in again.',
      );
    }
    const user = await this.users.findById(claims.sub);
    if (!user) throw new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');
    return { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn, user: toMe(user) };
  }

  /**
   * Ends the session the caller holds a token of: the access token's while it is valid, else the
   * refresh token's (body or cookie), so a client whose access token expired can still sign out.
   * Ending a session that already ended is fine.
   */
  async signOut(credentials: { accessToken?: string; refreshToken?: string }): Promise<void> {
    const claims =
      this.sessionOf(credentials.accessToken, (t) => this.tokens.verifyAccess(t)) ??
      this.sessionOf(credentials.refreshToken, (t) => this.tokens.verifyRefresh(t));
    if (!claims)
      throw new UnauthenticatedError(
        'UNAUTHENTICATED',
        'Nothing to sign out: send a valid access token, or the refresh token (in the body or its cookie).',
      );
    await this.revokeSessions(claims.sub, [claims.sid], 'sign_out');
  }

  private sessionOf(
    token: string | undefined,
    verify: (token: string) => { sub: string; sid: string },
  ): { sub: string; sid: string } | undefined {
    if (!token) return undefined;
    try {
      return verify(token);
    } catch {
      return undefined; // expired, forged or of the other kind
    }
  }

  async listSessions(caller: AuthUser): Promise<SessionDto[]> {
    const sessions = await this.sessions.listLive(caller.userId);
    return sessions.map((s) => ({
      id: s.id,
      userAgent: s.userAgent,
      ip: s.ip,
      createdAt: s.createdAt.toISOString(),
      lastUsedAt: s.lastUsedAt.toISOString(),
      current: s.id === caller.sessionId,
    }));
  }

  async revokeSession(caller: AuthUser, sessionId: string): Promise<void> {
    const session = await this.sessions.findById(sessionId);
    if (!session || session.userId !== caller.userId || session.revokedAt) throw new NotFoundError('SESSION_NOT_FOUND', 'No such session.');
    await this.revokeSessions(caller.userId, [sessionId], 'revoked');
  }

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
      if (!user) throw new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');
      if (user.confirmed) return false;
      await this.emailTokens.create(userId, 'confirm_email', sha256(token), EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, tx);
      await mail.queue({ template: 'confirm-email', to: addressee(user.email, user.name, false), userId, token }, tx);
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
            `Could not make a password reset link for a reset request (${error instanceof Error ? error.message : String(error)}); the request was answered 202 and sends no email: the user can ask again.`,
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
      await this.emailTokens.create(user.id, 'reset_password', sha256(token), PASSWORD_RESET_TOKEN_TTL_SECONDS, tx);
      await mail.queue(
        { template: 'reset-password', to: addressee(user.email, user.name, user.emailConfirmedAt !== null), userId: user.id, token },
        tx,
      );
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
    this.events.publish(new SessionsRevokedEvent(result.userId, result.revoked, true));
  }

  private async revokeSessions(userId: string, sessionIds: string[], reason: string): Promise<void> {
    for (const id of sessionIds) await this.sessions.revoke(id, reason);
    this.events.publish(new SessionsRevokedEvent(userId, sessionIds, false));
  }
}

/**
 * Which password an account has, as a short fingerprint: failed sign-ins per address count
 * against it, so a reset (a new password) starts every address afresh, wherever the lockout was.
 */
function passwordGeneration(passwordHash: string | undefined): string {
  return passwordHash ? sha256(passwordHash).slice(0, 12) : 'none';
}
