import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { InProcessPresenceStore } from './infrastructure/in-process-presence.store.js';
import { PRESENCE_RETRY_MS, PresenceLookup } from './presence-lookup.js';
import type { SocketRegistry } from './socket-registry.js';

/** A store that can be made to fail as Redis does when it is down; counts what it is asked. */
function failingStore() {
  const store = new InProcessPresenceStore();
  const state = { down: false, asked: 0 };
  const answer = store.onlineAmong.bind(store);
  store.onlineAmong = async (ids) => {
    state.asked++;
    if (state.down) throw new Error('Command timed out');
    return answer(ids);
  };
  return { store, state };
}

/** Users with an open socket on this instance. */
const registryWith = (here: string[]) => ({ openCountFor: (id: string) => (here.includes(id) ? 1 : 0) }) as unknown as SocketRegistry;

describe('PresenceLookup', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('answers from the shared store while it answers: users online on other instances too', async () => {
    const { store } = failingStore();
    await store.connected({ userId: 'elsewhere', connectionId: 'c1' });
    const lookup = new PresenceLookup(store, registryWith([]));
    expect(await lookup.onlineAmong(['elsewhere', 'offline'])).toEqual(new Set(['elsewhere']));
  });

  it('answers from this instance while the store fails, asks it again after PRESENCE_RETRY_MS, and uses it once it is back', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate'] });
    const { store, state } = failingStore();
    await store.connected({ userId: 'elsewhere', connectionId: 'c1' });
    const lookup = new PresenceLookup(store, registryWith(['here']));
    state.down = true;

    expect(await lookup.onlineAmong(['here', 'elsewhere', 'offline'])).toEqual(new Set(['here']));
    expect(state.asked).toBe(1);
    // Within the pause the store is not asked: no request waits for Redis's timeout again.
    jest.advanceTimersByTime(PRESENCE_RETRY_MS - 1);
    expect(await lookup.onlineAmong(['here', 'elsewhere'])).toEqual(new Set(['here']));
    expect(state.asked).toBe(1);

    jest.advanceTimersByTime(1);
    expect(await lookup.onlineAmong(['here', 'elsewhere'])).toEqual(new Set(['here']));
    expect(state.asked).toBe(2); // asked, still down: another pause

    state.down = false;
    jest.advanceTimersByTime(PRESENCE_RETRY_MS);
    expect(await lookup.onlineAmong(['here', 'elsewhere'])).toEqual(new Set(['elsewhere']));
    expect(await lookup.onlineAmong(['elsewhere'])).toEqual(new Set(['elsewhere']));
    expect(state.asked).toBe(4);
  });

  it('lets one request at a time ask a failing store again, the others answering from here; logs the outage and its end once each', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate'] });
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const logged = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const { store, state } = failingStore();
    await store.connected({ userId: 'elsewhere', connectionId: 'c1' });
    const lookup = new PresenceLookup(store, registryWith(['here']));
    // An answer asked for before the outage, arriving after it began, proves nothing.
    let answerLate!: () => void;
    const late = new Promise<void>((resolve) => (answerLate = resolve));
    const failing = store.onlineAmong;
    const answer = (ids: string[]) => InProcessPresenceStore.prototype.onlineAmong.call(store, ids);
    store.onlineAmong = async (ids) => (await late, answer(ids));
    const before = lookup.onlineAmong(['elsewhere']);
    store.onlineAmong = failing;
    state.down = true;
    await Promise.all([lookup.onlineAmong(['here']), lookup.onlineAmong(['here'])]); // both fail at once
    answerLate();
    expect(await before).toEqual(new Set(['elsewhere']));
    expect(await lookup.onlineAmong(['here', 'elsewhere'])).toEqual(new Set(['here'])); // still paused

    // The pause is over; the store stalls: one request asks it, the others do not wait.
    jest.advanceTimersByTime(PRESENCE_RETRY_MS);
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    state.down = false;
    store.onlineAmong = async (ids) => (state.asked++, await stalled, answer(ids));
    const asked = state.asked;
    const probe = lookup.onlineAmong(['here', 'elsewhere']);
    const others = await Promise.all([lookup.onlineAmong(['here', 'elsewhere']), lookup.onlineAmong(['elsewhere'])]);
    expect(others).toEqual([new Set(['here']), new Set()]);
    expect(state.asked).toBe(asked + 1);
    release();
    expect(await probe).toEqual(new Set(['elsewhere']));

    expect(warned).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged.mock.calls[0][0]).toMatch(/shared again/);
  });
});
