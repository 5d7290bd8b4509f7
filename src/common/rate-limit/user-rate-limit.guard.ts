import { applyDecorators, type CanActivate, type ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthUser } from '../auth/auth-user.js';
import { type UserLimit, UserRateLimiter } from './user-rate-limiter.js';

const LIMIT = 'parley:user-limit';

/** Counts the route against the caller's `limit` before anything else runs (an upload's body is not even read when over it). */
export const UserRateLimit = (limit: UserLimit) => applyDecorators(SetMetadata(LIMIT, limit), UseGuards(UserRateLimitGuard));

@Injectable()
export class UserRateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: UserRateLimiter,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const limit = this.reflector.get<UserLimit | undefined>(LIMIT, context.getHandler());
    const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
    if (limit && user) this.limiter.consume(limit, user.userId);
    return true;
  }
}
