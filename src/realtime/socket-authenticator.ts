import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user.js';
import { OriginPolicy } from '../common/http/origin-policy.js';
import { AppConfig } from '../config/app-config.js';
import { AccessTokenVerifier } from '../modules/auth/access-token.verifier.js';
import { ACCESS_COOKIE } from '../modules/auth/jwt.strategy.js';
import { bearerToken } from '../common/auth/bearer.js';

/** What the upgrade request brought: a token, nothing (the client must send an `auth` frame), or a refusal. */
export type HandshakeCredential = { kind: 'token'; token: string } | { kind: 'none' } | { kind: 'refused'; code: 'ORIGIN_NOT_ALLOWED' };

export interface SocketIdentity extends AuthUser {
  /** When the access token expires (ms since epoch); the socket closes then. */
  expiresAt?: number;
}

/**
 * Authentication for sockets, the same as for HTTP: an access token of a live session, from
 * `Authorization: Bearer`, the `access_token` cookie, or the first frame.
 *
 * The cookie is sent by the browser whichever page opens the socket, so it only counts when the
 * Origin is this server's own (PUBLIC_URL, or the Host the request was sent to) or one listed in
 * CORS_ORIGINS; otherwise any site could act as the signed-in user (cross-site WebSocket
 * hijacking). Browsers always send Origin; a cookie without one is refused too.
 */
@Injectable()
export class SocketAuthenticator {
  private readonly origins: OriginPolicy;

  constructor(
    config: AppConfig,
    private readonly verifier: AccessTokenVerifier,
  ) {
    this.origins = new OriginPolicy(config);
  }

  fromHandshake(request: IncomingMessage): HandshakeCredential {
    const bearer = bearerToken(request.headers.authorization);
    if (bearer) return { kind: 'token', token: bearer };
    // `/ws?auth=frame`: the page will say who it is in its first frame. A browser sends the cookie
    // with every upgrade, and with two accounts signed in in one browser the cookie may be the
    // other account's (tabs keep their own tokens).
    if (wantsFrameAuth(request.url)) return { kind: 'none' };
    const cookie = readCookie(request.headers.cookie, ACCESS_COOKIE);
    if (cookie) {
      if (!this.isAllowedOrigin(request.headers.origin, request.headers.host)) return { kind: 'refused', code: 'ORIGIN_NOT_ALLOWED' };
      return { kind: 'token', token: cookie };
    }
    return { kind: 'none' };
  }

  isAllowedOrigin(origin: string | undefined, host: string | undefined): boolean {
    return this.origins.allows(origin, host);
  }

  /** Those of these sessions that are no longer live (revoked, expired, or their user deleted). */
  endedSessions(sessionIds: string[]): Promise<string[]> {
    return this.verifier.endedSessions(sessionIds);
  }

  /** Checks the token and its session (throws UnauthenticatedError) and reads its expiry. */
  async verify(token: string): Promise<SocketIdentity> {
    const user = await this.verifier.verify(token);
    return Object.assign({}, user, { expiresAt: expiryOf(token) });
  }
}

function wantsFrameAuth(url: string | undefined): boolean {
  const query = url?.split('?')[1];
  return query !== undefined && new URLSearchParams(query).get('auth') === 'frame';
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      return raw || undefined;
    }
  }
  return undefined;
}

/** `exp` of a JWT whose signature was already checked, in ms. */
function expiryOf(token: string): number | undefined {
  try {
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
