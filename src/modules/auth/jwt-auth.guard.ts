import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import passport from 'passport';
import type { AuthUser } from '../../common/auth/auth-user.js';
import { HttpOnlyGuard } from '../../common/auth/http-only-guard.js';
import { IS_PUBLIC } from '../../common/auth/public.decorator.js';
import { UnauthenticatedError } from '../../common/errors/domain-error.js';
import { tokenExpired, tokenInvalid } from './auth-errors.js';
import { JwtStrategy } from './jwt.strategy.js';

/**
 * Applied to every HTTP route; @Public() opts out. WebSocket frames are authenticated by their
 * connection instead.
 *
 * Runs this application's own JwtStrategy through passport, rather than the one passport keeps
 * under the name 'jwt' for the whole process: that one is whichever application registered last,
 * so with two in one process (tests, or an app embedding Parley) closing one left the other
 * checking sessions against a closed database.
 */
@Injectable()
@HttpOnlyGuard()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    return isPublic
      ? true
      : this.authenticate(context.switchToHttp().getRequest<Request>(), context.switchToHttp().getResponse<Response>());
  }

  private authenticate(request: Request, response: Response): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      // passport fills a strategy object with per-request callbacks: a fresh one per request,
      // inheriting this application's strategy, so concurrent requests never share them.
      const perRequest = Object.create(this.strategy) as passport.Strategy;
      passport.authenticate(perRequest, { session: false }, (error: unknown, user: AuthUser | false, info: unknown) => {
        try {
          (request as Request & { user?: AuthUser }).user = this.userOrRefusal(error, user, info);
          resolve(true);
        } catch (refusal) {
          reject(refusal);
        }
      })(request, response, reject);
    });
  }

  private userOrRefusal(error: unknown, user: AuthUser | false, info: unknown): AuthUser {
    if (error) throw error; // a DomainError from the session check, or a failure of passport's own
    if (user) return user;
    const name = (info as Error | undefined)?.name;
    if (name === 'TokenExpiredError') throw tokenExpired();
    // NotBeforeError: Parley issues no `nbf`, so a token with one still in the future is not its own.
    if (name === 'JsonWebTokenError' || name === 'NotBeforeError') throw tokenInvalid('The access token is invalid.');
    throw new UnauthenticatedError();
  }
}
