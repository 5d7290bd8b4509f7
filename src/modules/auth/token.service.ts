import { createHash, createSecretKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AppConfig } from '../../config/app-config.js';
import { UnauthenticatedError } from '../../common/errors/domain-error.js';
import { isLowerCaseUuid } from '../../common/ids/uuid.js';
import { tokenExpired, tokenInvalid } from './auth-errors.js';

export interface AccessClaims {
  sub: string;
  sid: string;
}

interface RefreshClaims extends AccessClaims {
  jti: string;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A random single-use token for links in emails. */
export function newEmailToken(): string {
  return randomBytes(32).toString('base64url');
}

/** JWTs: access tokens (short, per request) and refresh tokens (long, single use, stored hashed). */
@Injectable()
export class TokenService {
  /**
   * The secrets as key objects, made once: given a string, jsonwebtoken first tries (and fails)
   * to read it as a public or private key on every sign and verify, which costs more than the
   * HMAC itself.
   */
  private readonly keys: { access: KeyObject; refresh: KeyObject };

  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {
    this.keys = {
      access: createSecretKey(Buffer.from(config.auth.accessSecret)),
      refresh: createSecretKey(Buffer.from(config.auth.refreshSecret)),
    };
  }

  issue(userId: string, sessionId: string): IssuedTokens {
    const { accessTtlSeconds, refreshTtlSeconds } = this.config.auth;
    const accessToken = this.jwt.sign(
      { sub: userId, sid: sessionId, typ: 'access' },
      { secret: this.keys.access as unknown as string, expiresIn: accessTtlSeconds },
    );
    const jti = randomUUID();
    const refreshToken = this.jwt.sign(
      { sub: userId, sid: sessionId, jti, typ: 'refresh' },
      { secret: this.keys.refresh as unknown as string, expiresIn: refreshTtlSeconds },
    );
    return {
      accessToken,
      refreshToken,
      expiresIn: accessTtlSeconds,
      refreshTokenHash: sha256(jti),
      refreshExpiresAt: new Date(Date.now() + refreshTtlSeconds * 1000),
    };
  }

  /** Checks signature, expiry and type of an access token; says which of them failed. */
  verifyAccess(token: string): AccessClaims {
    return accessClaimsOf(this.verify<UncheckedClaims>(token, this.keys.access));
  }

  verifyRefresh(token: string): RefreshClaims & { jtiHash: string } {
    const claims = this.verify<UncheckedClaims>(
      token,
      this.keys.refresh,
      () => new UnauthenticatedError('REFRESH_EXPIRED', 'The refresh token has expired; sign in again.'),
    );
    // A refresh token is known by its jti as well as its typ.
    if (!claims.jti) throw tokenInvalid(NOT_OF_TYPE.refresh);
    const { sub, sid, jti } = claimsOfType(claims, 'refresh', ['sub', 'sid', 'jti']);
    return { sub, sid, jti, jtiHash: sha256(jti) };
  }

  /** `expired` answers a token past its time (a refresh token's is not the access token's answer). */
  private verify<T extends object>(token: string, key: KeyObject, expired: () => UnauthenticatedError = tokenExpired): T {
    let claims: T;
    try {
      // Only HS256 is ever issued; naming it refuses tokens that claim another algorithm.
      claims = this.jwt.verify<T>(token, { secret: key as unknown as string, algorithms: ['HS256'] });
    } catch (error) {
      if ((error as Error).name === 'TokenExpiredError') throw expired();
      throw tokenInvalid();
    }
    return claims;
  }
}

/**
 * The claims of a verified token that was issued as an access token; anything else signed with
 * the access secret is refused. Shared by the WebSocket (verifyAccess) and REST (JwtStrategy).
 */
export function accessClaimsOf(claims: UncheckedClaims): AccessClaims {
  return claimsOfType(claims, 'access', ['sub', 'sid']);
}

/** A verified token's claims, before claimsOfType has checked what they are. */
type UncheckedClaims = { typ?: unknown; exp?: unknown } & Partial<Record<keyof RefreshClaims, unknown>>;

const NOT_OF_TYPE = { access: 'The token is not an access token.', refresh: 'The token is not a refresh token.' } as const;

/** The `ids` claims of a verified token issued as `typ`; a token of another type, or not issued by Parley, is refused. */
function claimsOfType<K extends keyof RefreshClaims>(
  claims: UncheckedClaims,
  typ: keyof typeof NOT_OF_TYPE,
  ids: readonly K[],
): Record<K, string> {
  if (claims.typ !== typ) throw tokenInvalid(NOT_OF_TYPE[typ]);
  // Every token Parley issues expires; one that does not was not made by it.
  if (typeof claims.exp !== 'number') throw tokenInvalid('The token has no expiry.');
  const checked = {} as Record<K, string>;
  for (const name of ids) {
    const id = claims[name];
    if (!isId(id)) throw notIssuedHere();
    checked[name] = id;
  }
  return checked;
}

/** The ids Parley puts in a token (user, session, refresh token) are lower-case UUIDs (randomUUID). */
const isId = isLowerCaseUuid;

/**
 * A token signed with Parley's secret whose ids are not ids: not one it issued (a secret that
 * leaked, or a token made by hand with the dev secret). Refused as any invalid token is, before
 * its ids reach a query.
 */
function notIssuedHere(): UnauthenticatedError {
  return tokenInvalid();
}
