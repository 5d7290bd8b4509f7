import type { Connection } from './connection.js';
import { SocketRegistry } from './socket-registry.js';

const connection = (id: string, userId?: string, sessionId?: string) =>
  ({ id, userId, sessionId, isAuthenticated: userId !== undefined }) as unknown as Connection;

describe('SocketRegistry', () => {
  const registry = new SocketRegistry();
  const alicePhone1 = connection('a1', 'alice', 'alice-phone');
  const alicePhone2 = connection('a2', 'alice', 'alice-phone');
  const aliceLaptop = connection('a3', 'alice', 'alice-laptop');
  const bob = connection('b1', 'bob', 'bob-phone');
  const pending = connection('p1');

  beforeAll(() => {
    registry.track(pending);
    for (const c of [alicePhone1, alicePhone2, aliceLaptop, bob]) registry.register(c);
  });

  const ids = (found: Connection[]) => found.map((c) => c.id).sort();

  it('selects every connection of the users', () => {
    expect(ids(registry.select({ userIds: ['alice', 'bob', 'nobody'] }))).toEqual(['a1', 'a2', 'a3', 'b1']);
  });

  it('narrows to sessions, and requires sessions to belong to the users given', () => {
    expect(ids(registry.select({ userIds: ['alice'], sessionIds: ['alice-phone'] }))).toEqual(['a1', 'a2']);
    expect(ids(registry.select({ userIds: ['bob'], sessionIds: ['alice-phone'] }))).toEqual([]);
  });

  it('leaves out the excepted connection', () => {
    expect(ids(registry.select({ userIds: ['alice'], exceptConnectionId: 'a2' }))).toEqual(['a1', 'a3']);
  });

  it('leaves out a connection that is closing (no longer authenticated) until it is removed', () => {
    const closing = connection('c1', 'carol', 'carol-phone');
    registry.register(closing);
    (closing as { isAuthenticated: boolean }).isAuthenticated = false;
    expect(ids(registry.select({ userIds: ['carol'] }))).toEqual([]);
    expect(ids(registry.select({ userIds: ['carol'], sessionIds: ['carol-phone'] }))).toEqual([]);
    registry.remove(closing);
  });

  it('selects nothing for an empty target', () => {
    expect(registry.select({})).toEqual([]);
  });

  it('counts what a user has left as connections go', () => {
    const local = new SocketRegistry();
    const one = connection('x1', 'carol', 's1');
    const two = connection('x2', 'carol', 's2');
    local.register(one);
    expect(local.countFor('carol')).toBe(1);
    local.register(two);
    expect(local.countFor('carol')).toBe(2);
    local.remove(one);
    expect(local.countFor('carol')).toBe(1);
    local.remove(two);
    expect(local.countFor('carol')).toBe(0);
    expect(local.select({ userIds: ['carol'] })).toEqual([]);
    expect(local.all()).toEqual([]);
  });
});
