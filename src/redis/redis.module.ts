import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { redact } from '../config/env-reader.js';
import { opening } from '../common/startup-scope.js';
import { withTimeout } from '../common/concurrency/within.js';
import { HealthRegistry } from '../common/health/health-registry.js';
import { SetupError } from '../common/errors/setup-error.js';
import { heldBackNote, LogThrottle } from '../common/logging/log-throttle.js';
import { errorMessage } from '../common/errors/error-message.js';

/**
 * The Redis connection when REDIS_URL is set (rate limits and cross-instance fan-out share it),
 * or none: then those features run in-process.
 */
export class RedisConnection {
  private readonly extra: Redis[] = [];

  constructor(
    readonly client: Redis | undefined,
    private readonly url: string | undefined,
    /** REDIS_PREFIX: starts every key and channel name, so deployments sharing one Redis stay apart. */
    readonly prefix = 'parley:',
  ) {}

  /** `name` under this deployment's prefix. */
  key(name: string): string {
    return this.prefix + name;
  }

  /** A further connection, e.g. for SUBSCRIBE, which takes a connection over. Closed with the app. */
  async connectAnother(name: string): Promise<Redis> {
    if (!this.url) throw new Error('REDIS_URL is not set');
    const client = await connectRedis(this.url, name);
    this.extra.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([this.client, ...this.extra].map((c) => c?.quit().catch(() => c.disconnect())));
  }
}

/**
 * How long a Redis command may take before it fails. A Redis that accepts connections but stops
 * answering (paused, swapping, a half-open connection) would otherwise hold every caller for as
 * long as it lasts: sign-ins behind the auth rate limits (which then count in memory instead), the
 * start-up check. Commands here are single-key and quick, so a second is a stall, not load.
 */
const COMMAND_TIMEOUT_MS = 1_000;
/** How long the start-up check (connect, then PING) may take. */
const START_TIMEOUT_MS = 5_000;

/** How often one connection's error is logged again while it repeats (ioredis reports every reconnect attempt). */
const REPEAT_LOG_MS = 30_000;

/** A connection's error listener: each error is logged once, and again at most every REPEAT_LOG_MS while it repeats, with how often. */
export function quietly(name: string): (error: Error) => void {
  const logger = new Logger('Redis');
  // By message: an outage brings several in turn (ECONNRESET, EPIPE, timed out), each of which
  // would otherwise start the count afresh and be logged every time.
  const repeats = new Map<string, LogThrottle>();
  return (error) => {
    let throttle = repeats.get(error.message);
    if (!throttle) {
      // A handful of distinct messages in an outage; should a library put changing details in them, forget the oldest.
      if (repeats.size >= 20) repeats.delete(repeats.keys().next().value as string);
      repeats.set(error.message, (throttle = new LogThrottle(REPEAT_LOG_MS)));
    }
    const held = throttle.pass();
    if (held === undefined) return;
    logger.warn(`Redis (${name}) error: ${error.message}${heldBackNote(held)}`);
  };
}

/** A connection to REDIS_URL, checked with PING; closed again should the start under way fail. */
export function connectRedis(url: string, name: string): Promise<Redis> {
  return opening(openRedis(url, name), (client) => client.quit().catch(() => client.disconnect()));
}

async function openRedis(url: string, name: string): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: `parley-${name}`,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 5_000,
  });
  client.on('error', quietly(name));
  // What went wrong while connecting: ioredis reports a refused connection as an 'error' event,
  // and the connect call then fails with only "Connection is closed."; and a database number the
  // server does not have (redis://…/99) is an 'error' event too, after which ioredis carries on
  // in database 0, where other deployments' keys may be.
  const seen: Error[] = [];
  const note = (error: Error) => seen.push(error);
  client.on('error', note);
  try {
    // The connection is ready only once Redis answers (ioredis asks it INFO first), which a
    // listener that never answers would put off for ever: the whole start-up check is bounded.
    await withTimeout(
      (async () => (await client.connect(), await client.ping()))(),
      START_TIMEOUT_MS,
      () => new Error(`no answer within ${START_TIMEOUT_MS / 1000} s`),
    );
  } catch (error) {
    client.disconnect();
    const cause = seen.find((e) => e.message !== 'Connection is closed.') ?? error;
    throw new SetupError(
      `REDIS_URL is unreachable: ${errorMessage(cause).replace(/^Error: /, '')} (${redact(url)}). Start Redis there, fix REDIS_URL, or unset it to run on one instance.`,
    );
  } finally {
    client.off('error', note);
  }
  const refused = seen.find(
    (error) => error.message.includes('DB index is out of range') || (error as { command?: { name?: string } }).command?.name === 'select',
  );
  if (refused) {
    client.disconnect();
    throw new SetupError(
      `REDIS_URL names a database this Redis does not have: ${refused.message} (${redact(url)}). Use a database number below its "databases" setting (16 unless changed), or another REDIS_PREFIX to keep deployments apart.`,
    );
  }
  return client;
}

@Global()
@Module({
  providers: [
    {
      provide: RedisConnection,
      inject: [AppConfig, HealthRegistry],
      useFactory: async (config: AppConfig, health: HealthRegistry) => {
        if (!config.redis.url) {
          // Listed all the same: events fan out inside this process, which is up if it answers.
          health.register('redis', 'in-process', () => Promise.resolve());
          return new RedisConnection(undefined, undefined, config.redis.prefix);
        }
        const client = await connectRedis(config.redis.url, 'main');
        health.register('redis', 'redis', async () => {
          await client.ping();
        });
        return new RedisConnection(client, config.redis.url, config.redis.prefix);
      },
    },
  ],
  exports: [RedisConnection],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(RedisConnection) private readonly redis: RedisConnection) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.close();
  }
}
