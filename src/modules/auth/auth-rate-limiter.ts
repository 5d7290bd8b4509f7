import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type IRateLimiterOptions, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppConfig } from '../../config/app-config.js';
import { RateLimitedError } from '../../common/errors/domain-error.js';
import { clientNetwork } from '../../common/http/client-network.js';
import { FailureWindow } from '../../common/concurrency/failure-window.js';
import { RedisConnection } from '../../redis/redis.module.js';

const ACCOUNT_WINDOW_SECONDS = 15 * 60;
/** Failed sign-ins to one account from all addresses together, as a multiple of the per-address limit. */
const ALL_ADDRESSES_FACTOR = 10;
/**
 * How long an address stays known to an account after a sign-in from it succeeded (it may still
 * sign in once guesses from everywhere have reached their bound).
 */
const KNOWN_ADDRESS_SECONDS = 14 * 24 * 60 * 60;
/**
 * Without Redis, the known addresses of all accounts kept in memory at most (~2 MB), the longest
 * unused forgotten first: one account signing in from ever new networks must not grow the heap
 * for two weeks.
 */
const KNOWN_ADDRESSES_IN_MEMORY = 10_000;
/**
 * After a Redis call of the auth limits fails (down, or a command timed out: a stall), how long
 * they count in memory without asking Redis. Each of a sign-in's few calls would otherwise wait
 * out the command timeout, one after another, on every request while the stall lasts.
 */
const REDIS_RETRY_MS = 5_000;

/** What the limits here use of a limiter. */
interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  delete(key: string): Promise<boolean>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
}

/** Counts in Redis, or in this instance's memory while Redis fails (the counts are shared again once it answers). */
class RedisOrMemory implements Limiter {
  constructor(
    private readonly redis: Limiter,
    private readonly memory: Limiter,
    /** Whether Redis is being left alone for now: one for all the auth limits, as they share the connection. */
    private readonly breaker: FailureWindow,
  ) {}

  consume(key: string, points?: number): Promise<RateLimiterRes> {
    return this.run((limiter) => limiter.consume(key, points));
  }

  delete(key: string): Promise<boolean> {
    return this.run((limiter) => limiter.delete(key));
  }

  reward(key: string, points?: number): Promise<RateLimiterRes> {
    return this.run((limiter) => limiter.reward(key, points));
  }

  private async run<T>(call: (limiter: Limiter) => Promise<T>): Promise<T> {
    if (this.breaker.open) return call(this.memory);
    try {
      return await call(this.redis);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error; // a refusal, not a failure
      this.breaker.failed();
      return call(this.memory);
    }
  }
}

/**
 * Auth rate limits: every auth call per IP per minute, and per account the sign-in attempts (per
 * address and from all; a success clears its address's), forgot-password requests and
 * confirmation emails asked for again, per 15 minutes. In Redis when REDIS_URL is set, so
 * instances share the counts.
 */
@Injectable()
export class AuthRateLimiter {
  private readonly perIp: Limiter;
  /** Per account and address: a guesser locks the account only for the address it guesses from. */
  private readonly failedSignIns: Limiter;
  /** Per account, every address together: what bounds guessing spread over many addresses. */
  private readonly failedSignInsAll: Limiter;
  /** Per account, the addresses it was signed in from lately: the overall bound does not lock them out. */
  private readonly knownAddresses: KnownAddresses;
  private readonly passwordResets: Limiter;
  private readonly confirmationResends: Limiter;

  constructor(config: AppConfig, redis: RedisConnection) {
    // While Redis is unreachable or stalls, each instance counts in memory rather than failing
    // every sign-in and refresh with a 500, or holding each for seconds; the counts are shared
    // again once it answers.
    const breaker = new FailureWindow(REDIS_RETRY_MS);
    const make = (options: IRateLimiterOptions): Limiter =>
      redis.client
        ? new RedisOrMemory(
            new RateLimiterRedis(Object.assign({}, options, { storeClient: redis.client, rejectIfRedisNotReady: true })),
            new RateLimiterMemory(options),
            breaker,
          )
        : new RateLimiterMemory(options);
    this.perIp = make({ keyPrefix: redis.key('rl:auth:ip'), points: config.auth.rateLimitPerIp, duration: 60 });
    // Per account, over 15 minutes.
    const perAccount = (name: string, points = config.auth.rateLimitPerAccount) =>
      make({ keyPrefix: redis.key(`rl:auth:${name}`), points, duration: ACCOUNT_WINDOW_SECONDS });
    this.failedSignIns = perAccount('fail');
    this.failedSignInsAll = perAccount('fail-all', config.auth.rateLimitPerAccount * ALL_ADDRESSES_FACTOR);
    this.knownAddresses = redis.client
      ? new KnownAddressesInRedis(redis.client, redis.key('rl:auth:known:'), breaker)
      : new KnownAddressesInMemory();
    this.confirmationResends = perAccount('confirm');
    this.passwordResets = perAccount('reset');
  }

  /** Counted by clientNetwork: an IPv6 client's /64 is one address here. */
  async consumeIp(ip: string | undefined): Promise<void> {
    await consume(this.perIp, clientNetwork(ip), 'Too many authentication requests from this address; try again later.');
  }

  /**
   * Counts a sign-in attempt for the account before the password is checked, atomically, so a
   * burst of parallel guesses cannot all slip under the limit. A success clears its address's count
   * (see signedIn).
   *
   * Counted per account and address, and per account from all addresses at ALL_ADDRESSES_FACTOR
   * times that: a guesser locks the account only for its own address, while guessing spread over
   * many addresses still meets a bound, which does not hold back an address the account used in
   * the last two weeks (its own limit still does), so guessers on many addresses cannot lock the
   * owner out everywhere.
   */
  async countSignInAttempt(email: string, ip: string | null, generation: string): Promise<void> {
    try {
      await this.failedSignIns.consume(fromAddress(email, ip, generation));
      try {
        await this.failedSignInsAll.consume(email);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes) || !(await this.knownAddresses.has(knownKey(email, ip)))) throw rejection;
      }
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new RateLimitedError(
        rejection.msBeforeNext / 1000,
        'TOO_MANY_ATTEMPTS',
        'Too many failed sign-ins for this account; try again later or reset the password.',
      );
    }
  }

  /**
   * A success from `ip` clears that address's count, takes its own attempt back from the overall
   * one, and makes the address known to the account. The overall count's failures stay: an owner
   * signing in (from a known address, while guessers are at it) must not hand the guessers a new
   * allowance.
   */
  async signedIn(email: string, ip: string | null, generation: string): Promise<void> {
    await Promise.all([
      this.failedSignIns.delete(fromAddress(email, ip, generation)),
      this.failedSignInsAll.reward(email, 1),
      this.usedFrom(email, ip),
    ]);
  }

  /** The account was used from `ip` (signed in, or a session of it refreshed there): the address is known to it for two weeks. */
  async usedFrom(email: string, ip: string | null): Promise<void> {
    await this.knownAddresses.add(knownKey(email, ip));
  }

  /** A reset clears the overall count; the per-address ones belonged to the old password (see countSignInAttempt's keys). */
  async clearFailedSignInsAfterReset(email: string): Promise<void> {
    await this.failedSignInsAll.delete(email);
  }

  async consumeConfirmationResend(userId: string): Promise<void> {
    await consume(this.confirmationResends, userId, 'Too many confirmation emails asked for this account; try again later.');
  }

  async consumePasswordReset(email: string): Promise<void> {
    await consume(this.passwordResets, email, 'Too many password reset requests for this account; try again later.');
  }
}

/** Where the addresses known to accounts are kept (see AuthRateLimiter.knownAddresses). */
interface KnownAddresses {
  has(key: string): Promise<boolean>;
  add(key: string): Promise<void>;
}

/**
 * Keys that expire, shared by the instances. While Redis is away no address is known, so the
 * overall bound applies to every address, and none is remembered.
 */
class KnownAddressesInRedis implements KnownAddresses {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly breaker: FailureWindow,
  ) {}

  async has(key: string): Promise<boolean> {
    if (this.breaker.open) return false;
    return (await this.client.exists(this.prefix + key).catch(() => (this.breaker.failed(), 0))) === 1;
  }

  async add(key: string): Promise<void> {
    if (this.breaker.open) return;
    await this.client.set(this.prefix + key, '1', 'EX', KNOWN_ADDRESS_SECONDS).catch(() => this.breaker.failed());
  }
}

/** One process's memory: a map in the order of last use, bounded (KNOWN_ADDRESSES_IN_MEMORY), with no timer per entry. */
export class KnownAddressesInMemory implements KnownAddresses {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly capacity = KNOWN_ADDRESSES_IN_MEMORY,
    private readonly now: () => number = Date.now,
  ) {}

  has(key: string): Promise<boolean> {
    const until = this.until.get(key);
    if (until === undefined) return Promise.resolve(false);
    if (until > this.now()) return Promise.resolve(true);
    this.until.delete(key);
    return Promise.resolve(false);
  }

  add(key: string): Promise<void> {
    this.until.delete(key); // re-inserted last: the longest unused is forgotten first
    this.until.set(key, this.now() + KNOWN_ADDRESS_SECONDS * 1000);
    if (this.until.size > this.capacity) this.until.delete(this.until.keys().next().value as string);
    return Promise.resolve();
  }
}

/** An address known to the account: the account and the client's network (an IPv6 client's /64). */
function knownKey(email: string, ip: string | null): string {
  return `${email}|${clientNetwork(ip)}`;
}

/** The per-address key: the account, the client's network (an IPv6 client's /64) and the password it guesses against. */
function fromAddress(email: string, ip: string | null, generation: string): string {
  return `${email}|${clientNetwork(ip)}|${generation}`;
}

async function consume(limiter: Limiter, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw new RateLimitedError(rejection.msBeforeNext / 1000, 'RATE_LIMITED', message);
    throw rejection;
  }
}
