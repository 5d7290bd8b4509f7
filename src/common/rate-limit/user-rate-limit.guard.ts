import {
  applyDecorators,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  SetMetadata,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, type Observable, throwError } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../errors/domain-error.js';
import { type UserLimit, UserRateLimiter } from './user-rate-limiter.js';

const LIMIT = 'parley:user-limit';

/**
 * Counts the route against the caller's `limit` before anything else runs (an upload's body is not
 * even read when over it). A request refused for its input (400 from validation, which runs after
 * the count) gets its token back: it never reached the store. Other refusals (404, 403, 409) did,
 * and stay counted.
 */
export const UserRateLimit = (limit: UserLimit) =>
  applyDecorators(SetMetadata(LIMIT, limit), UseGuards(UserRateLimitGuard), UseInterceptors(RefundRefusedInput));

function limitedCall(reflector: Reflector, context: ExecutionContext): { limit: UserLimit; userId: string } | undefined {
  const limit = reflector.get<UserLimit | undefined>(LIMIT, context.getHandler());
  const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
  return limit && user ? { limit, userId: user.userId } : undefined;
}

@Injectable()
export class UserRateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: UserRateLimiter,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const call = limitedCall(this.reflector, context);
    if (call) this.limiter.consume(call.limit, call.userId);
    return true;
  }
}

/** Gives back the guard's token when the request's input is refused (pipes run inside interceptors). */
@Injectable()
export class RefundRefusedInput implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: UserRateLimiter,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        const call = limitedCall(this.reflector, context);
        if (call && error instanceof DomainError && error.kind === 'validation') this.limiter.giveBack(call.limit, call.userId);
        return throwError(() => error);
      }),
    );
  }
}
