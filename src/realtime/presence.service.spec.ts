import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { LastSeenRecorder } from './last-seen-recorder.js';
import { InProcessPresenceStore } from './infrastructure/in-process-presence.store.js';
import { PresenceAudience } from './presence-audience.js';
import { PresenceService } from './presence.service.js';
import type { PresenceEntry } from './presence-store.js';
import type { RealtimeService } from './realtime.service.js';

/** Two instances' presence services over one store (as Redis would share it), announcing into one list. */
function twoInstances() {
  const store = new InProcessPresenceStore();
  const announced: Array<{ userId: string; online: boolean }> = [];
  let releaseStamp: () => void = () => undefined;
  const stamping = new Promise<void>((resolve) => (releaseStamp = resolve));
  /** From when it is set, A's stamps of last seen wait for releaseStamp. */
  const slow = { stamps: false };
  const audience = { contactsOf: async () => ['contact'] } as unknown as PresenceAudience;
  const make = (slowStamp: boolean) => {
    const users = { stampLastSeen: async () => (slowStamp && slow.stamps ? stamping : undefined) } as unknown as LastSeenRecorder;
    const realtime = {
      send: async (_to: string[], event: { userId: string; online: boolean }) =>
        void announced.push({ userId: event.userId, online: event.online }),
    } as unknown as RealtimeService;
    const service = new PresenceService(store, users, realtime, { get: () => audience } as unknown as ModuleRef);
    service.onApplicationBootstrap();
    return service;
  };
  return { a: make(true), b: make(false), announced, releaseStamp, slow };
}

/** One instance's presence service over an in-process store, announcing to one contact into a list. */
function announcingService() {
  const store = new InProcessPresenceStore();
  const announced: Array<{ userId: string; online: boolean }> = [];
  const service = new PresenceService(
    store,
    { stampLastSeen: async () => undefined } as unknown as LastSeenRecorder,
    {
      send: async (_to: string[], e: { userId: string; online: boolean }) => void announced.push({ userId: e.userId, online: e.online }),
    } as unknown as RealtimeService,
    { get: () => ({ contactsOf: async () => ['contact'] }) } as unknown as ModuleRef,
  );
  service.onApplicationBootstrap();
  return { store, announced, service };
}

describe('PresenceService', () => {
  it('does not announce a user offline who came back online on another instance while the last-seen time was being stored', async () => {
    const { a, b, announced, releaseStamp, slow } = twoInstances();
    await a.connected({ userId: 'u', connectionId: 'c1' });
    await a.drain(1_000);
    expect(announced).toEqual([{ userId: 'u', online: true }]);

    slow.stamps = true;
    a.disconnected({ userId: 'u', connectionId: 'c1' }); // went offline: A stores last seen (slowly)
    await new Promise((resolve) => setImmediate(resolve));
    await b.connected({ userId: 'u', connectionId: 'c2' }); // and is back, through B
    await b.drain(1_000);
    releaseStamp();
    await a.drain(1_000);

    // Contacts end with the truth: online.
    expect(announced).toEqual([
      { userId: 'u', online: true },
      { userId: 'u', online: true },
    ]);
  });

  it('refreshes each batch of connections as it stands when it goes, leaving out one that closed meanwhile', async () => {
    const store = new InProcessPresenceStore();
    const refreshed: string[][] = [];
    (store as { refresh: (entries: PresenceEntry[]) => Promise<string[]> }).refresh = async (entries) => {
      refreshed.push(entries.map((e) => e.connectionId));
      open.delete('c700'); // closes while the first batch is on its way
      return [];
    };
    const service = new PresenceService(
      store,
      {} as unknown as LastSeenRecorder,
      {} as unknown as RealtimeService,
      { get: () => ({}) } as unknown as ModuleRef,
    );
    const entries = Array.from({ length: 1200 }, (_, i) => ({ userId: `u${i}`, connectionId: `c${i}` }));
    const open = new Set(entries.map((e) => e.connectionId));
    await service.heartbeat(entries, false, (e) => open.has(e.connectionId));
    expect(refreshed.map((batch) => batch.length)).toEqual([500, 499, 200]);
    expect(refreshed.flat()).not.toContain('c700');
  });

  /**
   * A sweep that finds user u's instance dead, its lease last refreshed at `lastRefresh`; the store
   * keeps `kept` as last seen (a later stamp may have come first). What was stamped and announced.
   */
  async function sweepOfDeadInstance(lastRefresh: Date, kept?: Date): Promise<{ stamped: Date[]; sent: unknown[] }> {
    const store = new InProcessPresenceStore();
    store.sweep = async () => [{ userId: 'u', lastSeenAt: lastRefresh }];
    const stamped: Date[] = [];
    const sent: unknown[] = [];
    const service = new PresenceService(
      store,
      { stampLastSeen: async (_id: string, at: Date) => (stamped.push(at), kept ?? at) } as unknown as LastSeenRecorder,
      { send: async (_to: string[], event: unknown) => void sent.push(event) } as unknown as RealtimeService,
      { get: () => ({ contactsOf: async () => ['contact'] }) } as unknown as ModuleRef,
    );
    service.onApplicationBootstrap();
    await service.heartbeat([], true);
    await service.drain(1_000);
    return { stamped, sent };
  }

  it('stamps a user whose instance died as last seen when their lease was last refreshed, not when the sweep found it', async () => {
    const lastRefresh = new Date('2026-12-06T10:00:00.000Z');
    expect(await sweepOfDeadInstance(lastRefresh)).toEqual({
      stamped: [lastRefresh],
      sent: [{ type: 'presence', userId: 'u', online: false, lastSeenAt: lastRefresh.toISOString() }],
    });
  });

  it('announces the time the profile keeps, when a later stamp of the user came first', async () => {
    const lastRefresh = new Date('2026-12-06T10:00:00.000Z');
    const kept = new Date('2026-12-06T10:00:05.000Z');
    expect(await sweepOfDeadInstance(lastRefresh, kept)).toEqual({
      stamped: [lastRefresh],
      sent: [{ type: 'presence', userId: 'u', online: false, lastSeenAt: kept.toISOString() }],
    });
  });

  it('announces where users stand at the next beat after the store did not answer their connect or disconnect, which it may still have done', async () => {
    const { store, announced, service } = announcingService();
    await service.connected({ userId: 'gone', connectionId: 'g1' });
    await service.drain(1_000);
    // Redis stalls: each command times out here, and runs there when the link comes back.
    const late = (run: () => Promise<boolean>) => async () => {
      await run();
      throw new Error('Command timed out');
    };
    const { connected, disconnected } = { connected: store.connected.bind(store), disconnected: store.disconnected.bind(store) };
    store.connected = (entry) => late(() => connected(entry))();
    store.disconnected = (entry) => late(() => disconnected(entry))();
    await service.connected({ userId: 'came', connectionId: 'c1' });
    service.disconnected({ userId: 'gone', connectionId: 'g1' });
    await service.drain(1_000);
    expect(announced).toEqual([{ userId: 'gone', online: true }]); // neither change told

    store.connected = connected;
    store.disconnected = disconnected;
    await service.heartbeat([{ userId: 'came', connectionId: 'c1' }], false);
    await service.drain(1_000);
    expect(announced).toHaveLength(1); // only a beat that sweeps settles them
    await service.heartbeat([{ userId: 'came', connectionId: 'c1' }], true);
    await service.drain(1_000);
    expect(announced.slice(1).sort((x, y) => x.userId.localeCompare(y.userId))).toEqual([
      { userId: 'came', online: true },
      { userId: 'gone', online: false },
    ]);
    // Once: the next beat tells nothing more.
    await service.heartbeat([{ userId: 'came', connectionId: 'c1' }], true);
    await service.drain(1_000);
    expect(announced).toHaveLength(3);
  });

  it('after the store failed a connect, lets the next connects be ready without waiting for its answer, still asking it, and logs one line for all', async () => {
    const { store, announced, service } = announcingService();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const connected = store.connected.bind(store);
    // Redis stalls: the first connect times out; the next ones are answered, but only once let go.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let asked = 0;
    store.connected = async (entry) => {
      asked++;
      if (asked === 1) throw new Error('Command timed out');
      await stalled;
      return connected(entry);
    };
    // As the Redis store's refresh does: a connection it does not hold is added, its user told back if it came online.
    (store as { refresh: (entries: PresenceEntry[]) => Promise<string[]> }).refresh = async (entries) => {
      const back: string[] = [];
      for (const entry of entries) if (await connected(entry)) back.push(entry.userId);
      return back;
    };
    try {
      await service.connected({ userId: 'u0', connectionId: 'c0' });
      for (let i = 1; i <= 20; i++) await service.connected({ userId: `u${i}`, connectionId: `c${i}` }); // ready without the answer
      expect(asked).toBe(21); // still asked, each in its user's turn
      expect(announced).toEqual([]);
      release();
      await service.drain(1_000);
      // The answers came: each user is announced as the store says, none left out of it.
      expect(announced.map((a) => a.userId).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `u${i + 1}`).sort());
      expect((await store.onlineAmong(['u7'])).has('u7')).toBe(true);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/^Presence store failed a connect or disconnect: Command timed out; .*Check REDIS_URL/);
      // The one whose connect failed is counted by the next heartbeat and settled as it stands: online.
      await service.heartbeat([{ userId: 'u0', connectionId: 'c0' }], true);
      await service.drain(1_000);
      expect(announced.filter((a) => a.userId === 'u0')).toContainEqual({ userId: 'u0', online: true });
      expect(announced).not.toContainEqual({ userId: 'u0', online: false });
      let answered = false;
      store.connected = async (entry) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        answered = true;
        return connected(entry);
      };
      await service.connected({ userId: 'u21', connectionId: 'c21' });
      expect(answered).toBe(true); // waited for the store again
    } finally {
      warn.mockRestore();
    }
  });

  it('announces offline when the user stays away', async () => {
    const { a, announced, releaseStamp } = twoInstances();
    releaseStamp();
    await a.connected({ userId: 'u', connectionId: 'c1' });
    a.disconnected({ userId: 'u', connectionId: 'c1' });
    await a.drain(1_000);
    expect(announced).toEqual([
      { userId: 'u', online: true },
      { userId: 'u', online: false },
    ]);
  });
});
