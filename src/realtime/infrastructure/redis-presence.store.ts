import type { Redis } from 'ioredis';
import { type Lapsed, type PresenceEntry, PresenceStore, REFRESH_BATCH } from '../presence-store.js';

const SWEEP_BATCH = 200;

// Every script reads the time from Redis, so instances with drifting clocks still agree.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const SCRIPTS = {
  // KEYS: user set, online set. ARGV: connection id, user id, ttl ms. Returns 1 when the user came online.
  parleyPresenceConnect: {
    numberOfKeys: 2,
    lua: `${NOW}
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      local before = redis.call('ZCARD', KEYS[1])
      local lapse = now + tonumber(ARGV[3])
      redis.call('ZADD', KEYS[1], lapse, ARGV[1])
      redis.call('PEXPIRE', KEYS[1], ARGV[3])
      redis.call('ZADD', KEYS[2], 'GT', lapse, ARGV[2])
      if before == 0 then return 1 end
      return 0`,
  },
  // KEYS: user set, online set. ARGV: connection id, user id. Returns 1 when the user has no
  // connection left: even when their keys were gone already (Redis restarted and kept nothing,
  // or a sweep beat us to it), so that contacts hear of it at worst twice rather than never.
  parleyPresenceDisconnect: {
    numberOfKeys: 2,
    lua: `${NOW}
      redis.call('ZREM', KEYS[1], ARGV[1])
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
      redis.call('ZREM', KEYS[2], ARGV[2])
      return 1`,
  },
  // KEYS: online set. ARGV: ttl ms, user key prefix, then user id and connection id pairs.
  // Returns the users it put back in the online set: gone from it, they had been taken offline.
  parleyPresenceRefresh: {
    numberOfKeys: 1,
    lua: `${NOW}
      local lapse = now + tonumber(ARGV[1])
      local back = {}
      for i = 3, #ARGV, 2 do
        local key = ARGV[2] .. ARGV[i]
        redis.call('ZADD', key, lapse, ARGV[i + 1])
        redis.call('PEXPIRE', key, ARGV[1])
        if redis.call('ZADD', KEYS[1], 'GT', lapse, ARGV[i]) == 1 then table.insert(back, ARGV[i]) end
      end
      return back`,
  },
  // KEYS: online set. ARGV: user key prefix, batch size. Returns the users whose connections all
  // lapsed, each followed by when their last connection lapsed (ms, Redis clock).
  parleyPresenceSweep: {
    numberOfKeys: 1,
    lua: `${NOW}
      local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
      local gone = {}
      for i = 1, #stale, 2 do
        local userId = stale[i]
        local key = ARGV[1] .. userId
        redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
        local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
        if latest[1] == nil then
          redis.call('ZREM', KEYS[1], userId)
          table.insert(gone, userId)
          table.insert(gone, stale[i + 1])
        else
          redis.call('ZADD', KEYS[1], latest[2], userId)
        end
      end
      return gone`,
  },
  // No KEYS. ARGV: user set keys. Returns how many live connections each has.
  parleyPresenceCount: {
    numberOfKeys: 0,
    lua: `${NOW}
      local counts = {}
      for i, key in ipairs(ARGV) do counts[i] = redis.call('ZCOUNT', key, '(' .. now, '+inf') end
      return counts`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptClient = Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

/**
 * Presence shared by every instance through Redis. Each connection is an entry that lapses
 * unless its instance refreshes it (the liveness heartbeat does, every 25 s), so the users of an
 * instance that crashed go offline within `ttlMs` plus one sweep, instead of staying online forever.
 *
 * The scripts touch keys they build from a prefix: fine on a single Redis or a replica set, not
 * on Redis Cluster.
 */
export class RedisPresenceStore extends PresenceStore {
  private readonly scripts: ScriptClient;
  /** Per user: a sorted set of connection ids scored by when they lapse (ms, Redis clock). */
  private readonly userPrefix: string;
  /** Users with any connection, scored by their latest lapse time: what the sweep walks. */
  private readonly onlineKey: string;

  constructor(
    redis: Redis,
    private readonly ttlMs: number,
    /** Starts every key: REDIS_PREFIX and `presence:`. */
    prefix: string,
  ) {
    super();
    this.userPrefix = `${prefix}user:`;
    this.onlineKey = `${prefix}online`;
    for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, { numberOfKeys, lua });
    }
    this.scripts = redis as unknown as ScriptClient;
  }

  async connected({ userId, connectionId }: PresenceEntry): Promise<boolean> {
    return (await this.scripts.parleyPresenceConnect(this.userPrefix + userId, this.onlineKey, connectionId, userId, this.ttlMs)) === 1;
  }

  async disconnected({ userId, connectionId }: PresenceEntry): Promise<boolean> {
    return (await this.scripts.parleyPresenceDisconnect(this.userPrefix + userId, this.onlineKey, connectionId, userId)) === 1;
  }

  async refresh(entries: PresenceEntry[]): Promise<string[]> {
    const back: string[] = [];
    for (let i = 0; i < entries.length; i += REFRESH_BATCH) {
      const pairs = entries.slice(i, i + REFRESH_BATCH).flatMap((e) => [e.userId, e.connectionId]);
      back.push(...((await this.scripts.parleyPresenceRefresh(this.onlineKey, this.ttlMs, this.userPrefix, ...pairs)) as string[]));
    }
    return back;
  }

  async sweep(): Promise<Lapsed[]> {
    const flat = (await this.scripts.parleyPresenceSweep(this.onlineKey, this.userPrefix, SWEEP_BATCH)) as string[];
    const lapsed: Lapsed[] = [];
    // A lease lapses ttlMs after its last renewal: that renewal is the last time the user was
    // known connected. Approximate: the latest renewal among the user's connections, which a
    // clean close elsewhere within the lease does not move (every instance has the same ttlMs).
    for (let i = 0; i < flat.length; i += 2) lapsed.push({ userId: flat[i], lastSeenAt: new Date(Number(flat[i + 1]) - this.ttlMs) });
    return lapsed;
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return new Set();
    const counts = (await this.scripts.parleyPresenceCount(...ids.map((id) => this.userPrefix + id))) as number[];
    return new Set(ids.filter((_, i) => counts[i] > 0));
  }
}
