import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, type Observable, throwError } from 'rxjs';
import { DomainError } from '../errors/domain-error.js';
import { limitedCall } from './user-limit.metadata.js';
import { UserRateLimiter } from './user-rate-limiter.js';

/**
 * Gives back UserRateLimitGuard's token when the request's input is refused (pipes run inside
 * interceptors, so validation's 400 passes through here). Not for uploads: a refused upload's body
 * was read all the same.
 */
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
        if (call && call.limit !== 'uploads' && error instanceof DomainError && error.kind === 'validation')
          this.limiter.giveBack(call.limit, call.userId);
        return throwError(() => error);
      }),
    );
  }
}
