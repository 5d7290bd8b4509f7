import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { HttpOnlyGuard } from '../../common/auth/http-only-guard.js';
import { IS_PUBLIC } from '../../common/auth/public.decorator.js';
import { DomainError, UnauthenticatedError } from '../../common/errors/domain-error.js';

/** Applied to every HTTP route; @Public() opts out. WebSocket frames are authenticated by their connection instead. */
@Injectable()
@HttpOnlyGuard()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    return isPublic ? true : super.canActivate(context);
  }

  override handleRequest<T>(error: unknown, user: T, info: unknown): T {
    if (error instanceof DomainError) throw error;
    if (user) return user;
    const name = (info as Error | undefined)?.name;
    if (name === 'TokenExpiredError')
      throw new UnauthenticatedError('TOKEN_EXPIRED', 'The access token has expired; refresh it or sign in again.');
    if (name === 'JsonWebTokenError') throw new UnauthenticatedError('TOKEN_INVALID', 'The access token is invalid.');
    throw new UnauthenticatedError();
  }
}
