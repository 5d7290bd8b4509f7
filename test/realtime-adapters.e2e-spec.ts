import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { fanOutContract, observe } from './contracts/fan-out.contract.js';
import { InProcessFanOut } from '../src/realtime/infrastructure/in-process-fan-out.js';
import { InProcessPresenceStore } from '../src/realtime/infrastructure/in-process-presence.store.js';
import type { FanOutMessage } from '../src/realtime/fan-out.js';
import { encode, RedisFanOut } from '../src/realtime/infrastructure/redis-fan-out.js';
import { RedisPresenceStore } from '../src/realtime/infrastructure/redis-presence.store.js';
import { presenceStoreContract } from './contracts/presence-store.contract.js';
import type { Lapsed } from '../src/realtime/presence-store.js';
import { eventually, pause } from './support/ws.js';
import { deleteRedisKeys, TEST_REDIS_URL as REDIS_URL, uniqueRedisPrefix } from './support/redis.js';

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

describe('Redis fan-out when messages are lost on the way', () => {
  const pool = redisPool();
  afterAll(() => pool.close());
  const deliver = (tag: string): FanOutMessage => ({ kind: 'deliver', target: { userIds: ['u'] }, frame: `{"tag":"${tag}"}` });

  /** Clocks are taken to differ by at most `clockSkewMs` (a second here, to keep the tests short). */
  async function receiver(clockSkewMs = 1_000) {
    const channel = `parley:test:fan-out:${randomUUID()}`;
    const subscriber = pool.connect();
    const fanOut = new RedisFanOut(pool.connect(), subscriber, channel, clockSkewMs);
    await fanOut.start();
    const observed = observe(fanOut);
    const missed: string[] = [];
    fanOut.onMissed((why) => missed.push(why));
    return { channel, subscriber, observed, missed };
  }

  it('reports a number skipped by another instance (a publish that never arrived), and nothing while they follow on', async () => {
    const { channel, observed, missed } = await receiver();
    const raw = pool.connect();
    const origin = randomUUID();
    for (const n of [1, 2, 3]) await raw.publish(channel, encode(origin, deliver(`m${n}`), n));
    await eventually(() => observed.received.length === 3);
    expect(missed).toEqual([]);
    await raw.publish(channel, encode(origin, deliver('m5'), 5));
    await eventually(() => observed.received.length === 4);
    expect(missed).toEqual([`1 message(s) from instance ${origin.slice(0, 8)} never arrived`]);
    // Another instance starts its own count; messages without a number (older instances) are not judged.
    await raw.publish(channel, encode(randomUUID(), deliver('other'), 1));
    await raw.publish(channel, `${randomUUID()}\n${JSON.stringify({ kind: 'deliver', target: { userIds: ['u'] } })}\n{"tag":"old"}`);
    await eventually(() => observed.received.length === 6);
    expect(missed).toHaveLength(1);
  });

  it("reports the loss of another instance's first messages since this one subscribed, which no number before them shows", async () => {
    const { channel, observed, missed } = await receiver();
    // An instance whose Redis connection is down when it first publishes (just started, say).
    const cut = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const publisher = new RedisFanOut(cut, pool.connect(), channel);
    await publisher.start();
    try {
      await pause(1_100); // past the allowance for clocks set apart (receiver's)
      await expect(publisher.publish(deliver('lost'))).rejects.toThrow();
      await eventually(() => cut.status === 'ready'); // the refused command set it connecting
      await publisher.publish(deliver('next'));
      await eventually(() => observed.received.length === 1);
      expect(missed).toEqual([expect.stringMatching(/^a message instance [0-9a-f]{8} published after this one subscribed never arrived$/)]);
    } finally {
      cut.disconnect();
    }
    // Not when the message before was published before this instance subscribed, nor for an instance's first.
    const raw = pool.connect();
    await raw.publish(channel, encode(randomUUID(), deliver('older'), 7, Date.now() - 60_000));
    await raw.publish(channel, encode(randomUUID(), deliver('first'), 1));
    await eventually(() => observed.received.length === 3);
    expect(missed).toHaveLength(1);
  });

  it('reports nothing for an instance it forgot (more than it keeps count of) when it is heard from again', async () => {
    const { channel, observed, missed } = await receiver(200);
    await pause(300);
    const raw = pool.connect();
    const origin = randomUUID();
    for (const n of [1, 2]) await raw.publish(channel, encode(origin, deliver(`a${n}`), n, n === 1 ? undefined : Date.now()));
    const pipeline = raw.pipeline();
    for (let i = 0; i < 1_000; i++) pipeline.publish(channel, encode(randomUUID(), deliver(`o${i}`), 1));
    await pipeline.exec();
    await raw.publish(channel, encode(origin, deliver('a3'), 3, Date.now()));
    await eventually(() => observed.received.length === 1_003);
    expect(missed).toEqual([]);
  });

  it('delivers once a message its instance published again (a command resent after a reconnect)', async () => {
    const { channel, observed, missed } = await receiver();
    const raw = pool.connect();
    const origin = randomUUID();
    for (const n of [1, 2, 3, 2, 3, 4]) await raw.publish(channel, encode(origin, deliver(`m${n}`), n));
    await raw.publish(channel, encode(randomUUID(), deliver('other'), 1)); // the last, so all the above have arrived
    await eventually(() => observed.received.some((m) => m.kind === 'deliver' && m.frame === '{"tag":"other"}'));
    expect(observed.received.map((m) => (m.kind === 'deliver' ? m.frame : m.kind))).toEqual([
      '{"tag":"m1"}',
      '{"tag":"m2"}',
      '{"tag":"m3"}',
      '{"tag":"m4"}',
      '{"tag":"other"}',
    ]);
    expect(missed).toEqual([]);
  });

  it('ignores malformed messages on the channel, whatever they hold, and keeps receiving', async () => {
    const { channel, observed } = await receiver();
    const raw = pool.connect();
    const origin = randomUUID();
    const junk = [
      'no header at all',
      `${origin}\n[1,2]\n{}`,
      `${origin}\n{"kind":"deliver"}\n{"type":"x"}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":"u"}}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":[1]}}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":["u"]},"stream":{"id":3}}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":["u"]},"behind":"c","ends":"yes"}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":["u"]},"behind":"c","version":{"of":"u","n":"4"}}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":["u"]},"behind":"c","version":4}\n{}`,
      `${origin}\n{"kind":"deliver","target":{"userIds":["u"]},"behind":"c","whileIn":1}\n{}`,
      `${origin}\n{"kind":"close","target":{"userIds":["u"]}}\n`,
      `${origin}\n{"kind":"launch","target":{}}\n`,
    ];
    for (const payload of junk) await raw.publish(channel, payload);
    await raw.publish(channel, encode(origin, deliver('fine'), 1));
    await eventually(() => observed.received.length === 1);
    expect(observed.received).toEqual([expect.objectContaining({ kind: 'deliver', frame: '{"tag":"fine"}' })]);
  });

  it('reports an interrupted subscription once it is back, once, and receives again', async () => {
    const channel = `parley:test:fan-out:${randomUUID()}`;
    // Reconnects 300 ms after losing its connection: long enough for a publish to be lost.
    const subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => 300 });
    const subscriberId = (await subscriber.client('ID')) as number;
    const receiving = new RedisFanOut(pool.connect(), subscriber, channel);
    await receiving.start();
    const observed = observe(receiving);
    const missed: string[] = [];
    receiving.onMissed((why) => missed.push(why));
    const publisher = new RedisFanOut(pool.connect(), pool.connect(), channel);
    await publisher.start();
    const got = (tag: string) => observed.received.some((m) => m.kind === 'deliver' && m.frame.includes(tag));
    try {
      await publisher.publish(deliver('before'));
      await eventually(() => got('before'));
      await pool.connect().client('KILL', 'ID', String(subscriberId)); // Redis drops the subscriber
      await eventually(() => subscriber.status !== 'ready');
      await publisher.publish(deliver('during')); // nobody subscribed: lost
      await eventually(() => missed.length === 1);
      expect(missed).toEqual(['the subscription to Redis was interrupted']);
      await publisher.publish(deliver('after'));
      await eventually(() => got('after'));
      // The number skipped during the outage was part of that one report, not a second one.
      expect(got('during')).toBe(false);
      expect(missed).toHaveLength(1);
    } finally {
      subscriber.disconnect();
    }
  });
});

describe('in-process presence', () => {
  presenceStoreContract(async () => [new InProcessPresenceStore()]);
});

describe('Redis presence (two instances)', () => {
  const pool = redisPool();
  const prefixes: string[] = [];
  afterAll(async () => {
    await pool.close();
    await Promise.all(prefixes.map((p) => deleteRedisKeys(p)));
  });

  // Keys of this run's own, so a Parley running against the same Redis is left alone (and leaves the test alone).
  const prefix = () => {
    prefixes.push(uniqueRedisPrefix());
    return `${prefixes.at(-1)}presence:`;
  };

  presenceStoreContract(async () => {
    const shared = prefix();
    return [new RedisPresenceStore(pool.connect(), 60_000, shared), new RedisPresenceStore(pool.connect(), 60_000, shared)];
  });

  describe('when an instance stops refreshing (crashed)', () => {
    // Refreshed every TTL/3: a pause of up to 2/3 of it (a busy machine) must not let a live entry lapse.
    const TTL = 3_000;
    let survivor: RedisPresenceStore;
    let crashed: RedisPresenceStore;
    beforeAll(() => {
      const shared = prefix();
      survivor = new RedisPresenceStore(pool.connect(), TTL, shared);
      crashed = new RedisPresenceStore(pool.connect(), TTL, shared);
    });
    const entry = (userId: string) => ({ userId, connectionId: randomUUID() });
    /** Redis's clock in ms, as the store's scripts read it. */
    const redisNow = async () => {
      const [seconds, micros] = await pool.connect().time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };

    const swept = (lapsed: Lapsed[], userId: string) => lapsed.filter((l) => l.userId === userId);

    it('lets its users lapse offline, and one sweep among racing instances reports each of them once, last seen when last refreshed', async () => {
      const userId = randomUUID();
      const before = await redisNow();
      await crashed.connected(entry(userId));
      const after = await redisNow();
      expect(await survivor.onlineAmong([userId])).toEqual(new Set([userId]));
      await pause(TTL + 200);
      expect(await survivor.onlineAmong([userId])).toEqual(new Set());
      const sweeps = await Promise.all([survivor.sweep(), survivor.sweep(), crashed.sweep()]);
      const reported = swept(sweeps.flat(), userId);
      expect(reported).toHaveLength(1);
      // When the connection was last refreshed (here: made), by Redis's clock, not when it was swept.
      expect(reported[0].lastSeenAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(reported[0].lastSeenAt.getTime()).toBeLessThanOrEqual(after);
      expect(swept(await survivor.sweep(), userId)).toEqual([]);
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
      expect(swept(await survivor.sweep(), userId)).toEqual([]);
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
