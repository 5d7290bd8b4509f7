import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { fanOutContract, observe } from '../src/realtime/fan-out.contract.js';
import { InProcessFanOut } from '../src/realtime/infrastructure/in-process-fan-out.js';
import { InProcessPresenceStore } from '../src/realtime/infrastructure/in-process-presence.store.js';
import { RedisFanOut } from '../src/realtime/infrastructure/redis-fan-out.js';
import { RedisPresenceStore } from '../src/realtime/infrastructure/redis-presence.store.js';
import { presenceStoreContract } from '../src/realtime/presence-store.contract.js';
import { pause } from './support/ws.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Redis connections for one describe, closed after it. */
function redisPool() {
  const clients: Redis[] = [];
  return {
    connect: () => {
      const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    close: () => Promise.all(clients.splice(0).map((c) => c.quit())),
  };
}

describe('in-process fan-out', () => {
  fanOutContract(async () => [observe(new InProcessFanOut())]);
});

describe('Redis fan-out (three instances on one channel)', () => {
  const pool = redisPool();
  const channel = `parley:test:fan-out:${randomUUID()}`;
  afterAll(() => pool.close());

  fanOutContract(async () =>
    Promise.all(
      [1, 2, 3].map(async () => {
        const fanOut = new RedisFanOut(pool.connect(), pool.connect(), channel);
        await fanOut.start();
        return observe(fanOut);
      }),
    ),
  );
});

describe('in-process presence', () => {
  presenceStoreContract(async () => [new InProcessPresenceStore()]);
});

describe('Redis presence (two instances)', () => {
  const pool = redisPool();
  afterAll(() => pool.close());

  presenceStoreContract(async () => [new RedisPresenceStore(pool.connect(), 60_000), new RedisPresenceStore(pool.connect(), 60_000)]);

  describe('when an instance stops refreshing (crashed)', () => {
    const TTL = 300;
    let survivor: RedisPresenceStore;
    let crashed: RedisPresenceStore;
    beforeAll(() => {
      survivor = new RedisPresenceStore(pool.connect(), TTL);
      crashed = new RedisPresenceStore(pool.connect(), TTL);
    });
    const entry = (userId: string) => ({ userId, connectionId: randomUUID() });

    it('lets its users lapse offline, and one sweep among racing instances reports each of them once', async () => {
      const userId = randomUUID();
      await crashed.connected(entry(userId));
      expect(await survivor.onlineAmong([userId])).toEqual(new Set([userId]));
      await pause(TTL + 200);
      expect(await survivor.onlineAmong([userId])).toEqual(new Set());
      const sweeps = await Promise.all([survivor.sweep(), survivor.sweep(), crashed.sweep()]);
      expect(sweeps.flat().filter((id) => id === userId)).toEqual([userId]);
      expect((await survivor.sweep()).includes(userId)).toBe(false);
    });

    it('keeps refreshed connections online and does not sweep a user who still has one', async () => {
      const userId = randomUUID();
      const live = entry(userId);
      await survivor.connected(live);
      await crashed.connected(entry(userId));
      for (let i = 0; i < 5; i++) {
        await pause(TTL / 3);
        await survivor.refresh([live]);
      }
      expect(await crashed.onlineAmong([userId])).toEqual(new Set([userId]));
      expect((await survivor.sweep()).includes(userId)).toBe(false);
      expect(await survivor.disconnected(live)).toBe(true);
    });

    it('says a user came online again after their lapsed connections', async () => {
      const userId = randomUUID();
      await crashed.connected(entry(userId));
      await pause(TTL + 200);
      expect(await survivor.connected(entry(userId))).toBe(true);
    });
  });
});
