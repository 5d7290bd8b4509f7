import { Injectable } from '@nestjs/common';
import {
  type IRateLimiterOptions,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { AppConfig } from '../../config/app-config.js';
import { RateLimitedError } from '../../common/errors/domain-error.js';
import { RedisConnection } from '../../redis/redis.module.js';

const ACCOUNT_WINDOW_SECONDS = 15 * 60;

/**
 * Auth rate limits: every auth call per IP per minute, and per account the sign-in attempts (a
 * success clears them), forgot-password requests and confirmation emails asked for again, per 15
 * minutes. In Redis when REDIS_URL is
 * set, so instances share the counts.
 */
@Injectable()
export class AuthRateLimiter {
  private readonly perIp: RateLimiterAbstract;
  private readonly failedSignIns: RateLimiterAbstract;
  private readonly passwordResets: RateLimiterAbstract;
  private readonly confirmationResends: RateLimiterAbstract;

  constructor(config: AppConfig, redis: RedisConnection) {
    // While Redis is unreachable, each instance counts in memory (insuranceLimiter) rather than
    // failing every sign-in and refresh with a 500; the counts are shared again once it is back.
    const make = (options: IRateLimiterOptions): RateLimiterAbstract =>
      redis.client
        ? new RateLimiterRedis(
            Object.assign({}, options, {
              storeClient: redis.client,
              rejectIfRedisNotReady: true,
              insuranceLimiter: new RateLimiterMemory(options),
            }),
          )
        : new RateLimiterMemory(options);
    this.perIp = make({ keyPrefix: redis.key('rl:auth:ip'), points: config.auth.rateLimitPerIp, duration: 60 });
    this.failedSignIns = make({
      keyPrefix: redis.key('rl:auth:fail'),
      points: config.auth.rateLimitPerAccount,
      duration: ACCOUNT_WINDOW_SECONDS,
    });
    this.confirmationResends = make({
      keyPrefix: redis.key('rl:auth:confirm'),
      points: config.auth.rateLimitPerAccount,
      duration: ACCOUNT_WINDOW_SECONDS,
    });
    this.passwordResets = make({
      keyPrefix: redis.key('rl:auth:reset'),
      points: config.auth.rateLimitPerAccount,
      duration: ACCOUNT_WINDOW_SECONDS,
    });
  }

  async consumeIp(ip: string): Promise<void> {
    await consume(this.perIp, ip, 'Too many authentication requests from this address; try again later.');
  }

  /**
   * Counts a sign-in attempt for the account before the password is checked, atomically, so a
   * burst of parallel guesses cannot all slip under the limit. A success clears the count.
   */
  async countSignInAttempt(email: string): Promise<void> {
    try {
      await this.failedSignIns.consume(email);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new RateLimitedError(
        rejection.msBeforeNext / 1000,
        'TOO_MANY_ATTEMPTS',
        'Too many failed sign-ins for this account; try again later or reset the password.',
      );
    }
  }

  async clearFailedSignIns(email: string): Promise<void> {
    await this.failedSignIns.delete(email);
  }

  async consumeConfirmationResend(userId: string): Promise<void> {
    await consume(this.confirmationResends, userId, 'Too many confirmation emails asked for this account; try again later.');
  }

  async consumePasswordReset(email: string): Promise<void> {
    await consume(this.passwordResets, email, 'Too many password reset requests for this account; try again later.');
  }
}

async function consume(limiter: RateLimiterAbstract, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw new RateLimitedError(rejection.msBeforeNext / 1000, 'RATE_LIMITED', message);
    throw rejection;
  }
}
