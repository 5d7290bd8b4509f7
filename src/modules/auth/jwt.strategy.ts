import { createSecretKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-jwt';
import { bearerToken } from '../../common/auth/bearer.js';
import type { AuthUser } from '../../common/auth/auth-user.js';
import { AppConfig } from '../../config/app-config.js';
import { AccessTokenVerifier } from './access-token.verifier.js';
import { type AccessClaims, accessClaimsOf } from './token.service.js';

export const ACCESS_COOKIE = 'access_token';
export const REFRESH_COOKIE = 'refresh_token';

/** The bearer token, or else the `access_token` cookie (an Authorization header of another scheme is not ours). */
const tokenOf = (req: Request): string | null =>
  bearerToken(req.headers.authorization) ?? (req.cookies as Record<string, string> | undefined)?.[ACCESS_COOKIE] ?? null;

/** passport-jwt: the token from `Authorization: Bearer` or the `access_token` cookie. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: AppConfig,
    private readonly verifier: AccessTokenVerifier,
  ) {
    super({
      jwtFromRequest: tokenOf,
      // A key object, made once (see TokenService), and the one algorithm Parley issues.
      secretOrKey: createSecretKey(Buffer.from(config.auth.accessSecret)) as unknown as string,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  async validate(payload: AccessClaims & { typ?: string }): Promise<AuthUser> {
    const { sub, sid } = accessClaimsOf(payload);
    return this.verifier.checkSession(sub, sid);
  }
}
