import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { tcpProxy, type TcpProxy } from './proxy.js';

/** The Redis the tests use: TEST_REDIS_URL, else the usual local one. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Every prefix the tests make starts so: never `parley:`, a developer's own server's default. */
const TEST_PREFIX_START = 'parley-test-';

/**
 * A REDIS_PREFIX of its own (`parley-test-<label-><random>:`), so that what a test writes neither
 * meets nor outlives another run, nor a Parley running against the same Redis.
 */
export function uniqueRedisPrefix(label = ''): string {
  return `${TEST_PREFIX_START}${label ? `${label}-` : ''}${randomUUID()}:`;
}

/** The keys under `prefix` in the test Redis. */
export async function redisKeys(prefix: string): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under a prefix made by uniqueRedisPrefix, once the apps using it are closed. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  if (!prefix.startsWith(TEST_PREFIX_START)) throw new Error(`Not a test prefix, left alone: ${prefix}`);
  const keys = await redisKeys(prefix);
  if (keys.length === 0) return;
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}

/** A proxy in front of the test Redis (which a test can cut or stall), and the REDIS_URL that goes through it. */
export async function redisProxy(): Promise<TcpProxy & { url: string }> {
  const target = new URL(TEST_REDIS_URL);
  const proxy = await tcpProxy(Number(target.port || 6379), target.hostname);
  const via = new URL(TEST_REDIS_URL);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  return Object.assign(proxy, { url: via.toString() });
}

/** SCAN MATCH treats `*?[]\` as pattern characters: a prefix matches as written. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
