import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { PresenceStore } from '../../src/realtime/presence-store.js';

/**
 * What every PresenceStore adapter promises, registered in the caller's describe. `stores`
 * returns one store per simulated instance (one for the in-process adapter; two sharing Redis
 * for the Redis one): a connection recorded on any of them counts on all.
 */
export function presenceStoreContract(stores: () => Promise<PresenceStore[]>): void {
  let all: PresenceStore[];
  const entry = (userId: string) => ({ userId, connectionId: randomUUID() });

  beforeAll(async () => {
    all = await stores();
  });

  describe('the PresenceStore contract', () => {
    it('reports coming online on the first connection and going offline after the last', async () => {
      const first = all[0];
      const last = all[all.length - 1];
      const userId = randomUUID();
      const [phone, laptop] = [entry(userId), entry(userId)];

      expect(await first.connected(phone)).toBe(true);
      expect(await last.connected(laptop)).toBe(false);
      for (const store of all) expect(await store.onlineAmong([userId])).toEqual(new Set([userId]));

      expect(await first.disconnected(phone)).toBe(false);
      for (const store of all) expect(await store.onlineAmong([userId])).toEqual(new Set([userId]));

      expect(await last.disconnected(laptop)).toBe(true);
      for (const store of all) expect(await store.onlineAmong([userId])).toEqual(new Set());
    });

    it('reports going offline for a connection it lost track of, unless the user has another', async () => {
      const store = all[0];
      const userId = randomUUID();
      const [phone, laptop] = [entry(userId), entry(userId)];
      // Never seen (its records were lost): the user has no connection, so they are offline now.
      expect(await store.disconnected(phone)).toBe(true);
      await store.connected(laptop);
      expect(await store.disconnected(phone)).toBe(false);
      for (const each of all) expect(await each.onlineAmong([userId])).toEqual(new Set([userId]));
      expect(await store.disconnected(laptop)).toBe(true);
    });

    it('answers onlineAmong for many users at once, ignoring duplicates', async () => {
      const store = all[0];
      const [online, offline] = [randomUUID(), randomUUID()];
      await store.connected(entry(online));
      expect(await store.onlineAmong([online, offline, online])).toEqual(new Set([online]));
      expect(await store.onlineAmong([])).toEqual(new Set());
    });

    it('reports exactly one transition when instances race to connect and disconnect', async () => {
      const userId = randomUUID();
      const entries = Array.from({ length: 6 }, () => entry(userId));
      const cameOnline = await Promise.all(entries.map((e, i) => all[i % all.length].connected(e)));
      expect(cameOnline.filter(Boolean)).toHaveLength(1);
      const wentOffline = await Promise.all(entries.map((e, i) => all[(i + 1) % all.length].disconnected(e)));
      expect(wentOffline.filter(Boolean)).toHaveLength(1);
    });
  });
}
