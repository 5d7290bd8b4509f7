import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';
import type { AuthUser } from '../../common/auth/auth-user.js';
import { NotFoundError, UnauthenticatedError } from '../../common/errors/domain-error.js';
import { normaliseName } from '../users/domain/user.js';
import { displayAddress } from '../../common/http/client-network.js';
import { UserRepository } from '../users/user.repository.js';
import { toMe } from '../users/dto/user.dto.js';
import { AuthRateLimiter } from './auth-rate-limiter.js';
import { AuthTokenRepository } from './auth-token.repository.js';
import type { AuthResultDto, SessionDto, SignInDto, SignUpDto } from './dto/auth.dto.js';
import { SessionsRevokedEvent } from './events/session-revoked.event.js';
import { UserSignedUpEvent } from './events/user-signed-up.event.js';
import { addressee, queueLinkEmail } from './email-links.service.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionRepository } from './session.repository.js';
import { newEmailToken, sha256, TokenService } from './token.service.js';
import type { MeDto } from '../users/dto/user.dto.js';
import { AppConfig } from '../../config/app-config.js';
import { MailOutbox } from '../notify/mail-outbox.js';
import { SEED_PASSWORD, SEED_USERS } from '../seeding/seed-data.js';
import { errorMessage } from '../../common/errors/error-message.js';
import { invalidCredentials, sessionEnded } from './auth-errors.js';

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

/**
 * Live sessions one user keeps: a sign-in beyond it ends the least recently used. Each device
 * signed in is one, and a script that signs in on every run instead of refreshing would otherwise
 * pile up a session a run for 30 days (and the session list, and a password reset, with them).
 */
export const MAX_LIVE_SESSIONS = 100;

/**
 * Accounts and sessions: sign-up (with its first confirmation email), sign-in, refresh, sign-out
 * and the session list. The emailed links after that are EmailLinksService's.
 */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

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
        const to = addressee(created.email, created.name, false);
        await queueLinkEmail(this.emailTokens, mail, 'confirm_email', { userId: id, to, token }, tx);
      }
      return created;
    });
    if (mail) {
      mail.wake();
      this.events.publish(new UserSignedUpEvent(user.id, user.email, user.name, token));
    }
    return toMe(user);
  }

  /**
   * Ends the user's least recently used sessions beyond MAX_LIVE_SESSIONS, the one just opened
   * aside. The sign-in stands if this fails (it is logged): the next one tries again.
   */
  private async endSessionsBeyondLimit(userId: string, opened: string): Promise<void> {
    try {
      const displaced = await this.sessions.revokeBeyond(userId, MAX_LIVE_SESSIONS, opened, 'session_limit');
      if (displaced.length > 0) this.events.publish(new SessionsRevokedEvent(userId, displaced));
    } catch (error) {
      this.logger.warn(`Could not end the sessions of user ${userId} beyond ${MAX_LIVE_SESSIONS}: ${errorMessage(error)}`);
    }
  }

  async signIn(input: SignInDto, client: ClientInfo): Promise<AuthResultDto> {
    const user = await this.users.findByEmail(input.email);
    const generation = passwordGeneration(user?.passwordHash);
    await this.limiter.countSignInAttempt(input.email, client.ip, generation);
    const check = user ? await this.hasher.verify(user.passwordHash, input.password) : await this.hasher.burn(input.password);
    if (!user || !check.matches || this.isSeedPasswordRefused(input.password)) throw invalidCredentials();
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
    if (!opened) throw invalidCredentials();
    await this.endSessionsBeyondLimit(user.id, sessionId);
    await this.limiter.signedIn(input.email, client.ip, generation);
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
      if (ended.length > 0) this.events.publish(new SessionsRevokedEvent(user.id, ended));
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
      this.logger.warn({ msg: 'Could not store a new hash of a password', userId, error: errorMessage(error) });
    }
  }

  /**
   * Rotates the refresh token. Each one works once: presenting a used one means it leaked (or a
   * client is confused), so the whole session is revoked. The address it comes from is one the
   * account is used from (see AuthRateLimiter.knownAddresses): a device that stays signed in for
   * weeks refreshes, and signs in with a password only when it has to.
   */
  async refresh(refreshToken: string | undefined, client: ClientInfo): Promise<AuthResultDto> {
    if (!refreshToken)
      throw new UnauthenticatedError('UNAUTHENTICATED', 'No refresh token: send { refreshToken } or the refresh_token cookie.');
    const claims = this.tokens.verifyRefresh(refreshToken);
    const session = await this.sessions.findLive(claims.sid);
    if (!session || session.userId !== claims.sub) throw sessionEnded();
    const issued = this.tokens.issue(claims.sub, claims.sid);
    if (!(await this.sessions.rotate(claims.sid, claims.jtiHash, issued.refreshTokenHash, issued.refreshExpiresAt))) {
      // Ended meanwhile (a sign-out, a revocation) rather than a token used twice: say so.
      if (!(await this.sessions.findLive(claims.sid))) throw sessionEnded();
      await this.revokeSessions(claims.sub, [claims.sid], 'refresh_reused');
      throw new UnauthenticatedError(
        'REFRESH_REUSED',
        'This refresh token was already used; the session has been revoked for safety. Sign in again.',
      );
    }
    const user = await this.users.findById(claims.sub);
    if (!user) throw sessionEnded();
    await this.limiter.usedFrom(user.email, client.ip);
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
      ip: s.ip && displayAddress(s.ip), // stored as the socket gave it (::ffff:1.2.3.4), shown as written
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

  private async revokeSessions(userId: string, sessionIds: string[], reason: string): Promise<void> {
    for (const id of sessionIds) await this.sessions.revoke(id, reason);
    this.events.publish(new SessionsRevokedEvent(userId, sessionIds));
  }
}

/**
 * Which password an account has, as a short fingerprint: failed sign-ins per address count
 * against it, so a reset (a new password) starts every address afresh, wherever the lockout was.
 */
function passwordGeneration(passwordHash: string | undefined): string {
  return passwordHash ? sha256(passwordHash).slice(0, 12) : 'none';
}
