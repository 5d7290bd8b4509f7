import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createApp, initApp } from '../../src/app.factory.js';
import { RealtimeSettings } from '../../src/realtime/realtime-settings.js';
import { type AppConfig, loadConfig } from '../../src/config/app-config.js';
import { AppLogger } from '../../src/common/logging/app-logger.js';
import { deleteRedisKeys, uniqueRedisPrefix } from './redis.js';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/ws */
  wsUrl: string;
  close(): Promise<void>;
}

/** Every module but seeding: tests make the users they need. */
export const TEST_MODULES = 'auth,users,chats,messages,notify,health';

export interface TestAppOptions {
  /** Listen on this port instead of a random one: a restarted app must be where its clients left it. */
  port?: number;
  /** Realtime settings other than the defaults (waits and holds a test wants longer or shorter). */
  realtime?: Partial<RealtimeSettings>;
}

/**
 * Boots the real application on a loopback port (random unless given). Logs are quiet unless
 * TEST_LOG_LEVEL says otherwise.
 *
 * With REDIS_URL and no REDIS_PREFIX, the app gets a prefix of its own (never `parley:`, where a
 * developer's server keeps its rate limits and presence), whose keys go when it closes; the test
 * Redis (test/support/redis.ts) is where they are, directly or through a proxy. Apps meant to share
 * Redis state are given one prefix from uniqueRedisPrefix, whose keys the suite deletes.
 */
export async function startTestApp(env: Record<string, string>, options: TestAppOptions = {}): Promise<TestApp> {
  const ownPrefix = env.REDIS_URL !== undefined && env.REDIS_PREFIX === undefined ? uniqueRedisPrefix() : undefined;
  try {
    return await boot(ownPrefix ? Object.assign({}, env, { REDIS_PREFIX: ownPrefix }) : env, options, ownPrefix);
  } catch (error) {
    // Whatever it wrote before it failed; the reason it failed is what the caller hears.
    if (ownPrefix) await deleteRedisKeys(ownPrefix).catch(() => undefined);
    throw error;
  }
}

async function boot(env: Record<string, string>, options: TestAppOptions, ownPrefix: string | undefined): Promise<TestApp> {
  const listenPort = options.port ?? 0;
  // Every test request comes from 127.0.0.1, and tests send as fast as they can: only the
  // rate-limit tests want the real limits (they set their own).
  const config = loadConfig({
    APP_ENV: 'LOCAL',
    MODULES: TEST_MODULES,
    PORT: String(listenPort),
    RATE_LIMIT_AUTH_PER_IP: '100000',
    RATE_LIMIT_MESSAGES_PER_USER: '1000000',
    RATE_LIMIT_CHATS_PER_USER: '1000000',
    RATE_LIMIT_SYNC_CHATS_PER_USER: '1000000',
    RATE_LIMIT_SEARCH_PER_USER: '1000000',
    RATE_LIMIT_READS_PER_USER: '1000000',
    RATE_LIMIT_UPLOADS_PER_USER: '1000000',
    ...env,
  });
  const logger = new AppLogger((process.env.TEST_LOG_LEVEL as 'error') ?? 'error', 'json');
  const app = options.realtime ? await withRealtimeSettings(config, logger, options.realtime) : await createApp(config, logger);
  await app.listen(listenPort, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    close: async () => {
      try {
        await app.close();
      } finally {
        if (ownPrefix) await deleteRedisKeys(ownPrefix);
      }
    },
  };
}

/** createApp, with RealtimeSettings replaced through a testing module. */
async function withRealtimeSettings(
  config: AppConfig,
  logger: AppLogger,
  settings: Partial<RealtimeSettings>,
): Promise<NestExpressApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(RealtimeSettings)
    .useValue(new RealtimeSettings(settings))
    .compile();
  return initApp(
    configureApp(moduleRef.createNestApplication<NestExpressApplication>({ logger, bodyParser: false }), config, logger),
    config,
  );
}
