import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RefundRefusedInput } from './refund-refused-input.interceptor.js';
import { LIMIT, limitedCall } from './user-limit.metadata.js';
import { type UserLimit, UserRateLimiter } from './user-rate-limiter.js';

/**
 * Counts the route against the caller's `limit` before anything else runs (an upload's body is not
 * even read when over it). A request refused for its input (400 from validation, which runs after
 * the count) gets its token back: it never reached the store (RefundRefusedInput). Other refusals
 * (404, 403, 409) did, and stay counted.
 */
export const UserRateLimit = (limit: UserLimit) =>
  applyDecorators(SetMetadata(LIMIT, limit), UseGuards(UserRateLimitGuard), UseInterceptors(RefundRefusedInput));

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
