import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { AuthUser } from '../auth/auth-user.js';
import type { UserLimit } from './user-rate-limiter.js';

/** The metadata key UserRateLimit() sets on a route: which per-user limit it counts against. */
export const LIMIT = 'parley:user-limit';

/** The limit a route counts against and whose it is, when it has one and the caller is signed in. */
export function limitedCall(reflector: Reflector, context: ExecutionContext): { limit: UserLimit; userId: string } | undefined {
  const limit = reflector.get<UserLimit | undefined>(LIMIT, context.getHandler());
  const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
  return limit && user ? { limit, userId: user.userId } : undefined;
}
