import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../../common/auth/auth-user.js';
import { SessionRepository } from './session.repository.js';
import { TokenService } from './token.service.js';
import { sessionEnded } from './auth-errors.js';

/**
 * Turns an access token into the caller, or refuses it. Sessions are checked on every use, so a
 * revoked session stops its access tokens at once rather than at expiry. HTTP (through passport)
 * and the WebSocket gateway both come here.
 */
@Injectable()
export class AccessTokenVerifier {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionRepository,
  ) {}

  async verify(token: string): Promise<AuthUser> {
    const claims = this.tokens.verifyAccess(token);
    return this.checkSession(claims.sub, claims.sid);
  }

  /** Of these sessions, those that have ended since their tokens were checked: for sockets, which outlive the check. */
  endedSessions(sessionIds: string[]): Promise<string[]> {
    return this.sessions.endedAmong(sessionIds);
  }

  async checkSession(userId: string, sessionId: string): Promise<AuthUser> {
    const session = await this.sessions.findLive(sessionId);
    if (!session || session.userId !== userId) throw sessionEnded();
    // lastUsedAt is written at most once a minute per session, to keep writes off the hot path.
    if (session.stale) await this.sessions.touch(sessionId);
    return { userId, sessionId };
  }
}
