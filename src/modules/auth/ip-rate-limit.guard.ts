import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AuthRateLimiter } from './auth-rate-limiter.js';

/** Counts the request against the caller's address, an IPv6 one by its /64 (RATE_LIMIT_AUTH_PER_IP per minute). */
@Injectable()
export class IpRateLimitGuard implements CanActivate {
  constructor(private readonly limiter: AuthRateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    await this.limiter.consumeIp(request.ip);
    return true;
  }
}
