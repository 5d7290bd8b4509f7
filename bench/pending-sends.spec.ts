import { PendingSends } from './pending-sends.js';

interface Sent {
  clientId: string;
  text: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4000-8000-[0-9a-f]{12}$/;

describe('PendingSends', () => {
  it('names each send with a UUID-shaped clientId and finds it by that id until it is deleted', () => {
    const pending = new PendingSends<Sent>(3, 8);
    const a = pending.add(0, (clientId) => ({ clientId, text: 'a' }));
    const b = pending.add(2, (clientId) => ({ clientId, text: 'b' }));
    const c = pending.add(2, (clientId) => ({ clientId, text: 'c' }));
    expect([a.clientId, b.clientId, c.clientId].every((id) => UUID.test(id))).toBe(true);
    expect(new Set([a.clientId, b.clientId, c.clientId]).size).toBe(3);
    expect(pending.size).toBe(3);
    expect([pending.get(a.clientId), pending.get(b.clientId), pending.get(c.clientId)]).toEqual([a, b, c]);

    pending.delete(b.clientId);
    pending.delete(b.clientId);
    expect(pending.get(b.clientId)).toBeUndefined();
    expect(pending.get(c.clientId)).toBe(c);
    expect(pending.size).toBe(2);
  });

  it('knows nothing of ids it did not make: another client, another shape, a chat it does not have', () => {
    const pending = new PendingSends<Sent>(2, 8);
    const mine = pending.add(1, (clientId) => ({ clientId, text: 'mine' }));
    const other = new PendingSends<Sent>(2, 8).add(1, (clientId) => ({ clientId, text: 'theirs' }));
    expect(pending.get(other.clientId)).toBeUndefined();
    expect(pending.get('not-a-uuid')).toBeUndefined();
    expect(pending.get(mine.clientId.slice(0, 9) + '00ff' + mine.clientId.slice(13))).toBeUndefined();
    pending.delete(other.clientId);
    expect(pending.size).toBe(1);
  });

  it('reuses a slot once its send is gone, and counts a send still waiting when its slot comes round', () => {
    const pending = new PendingSends<Sent>(1, 2);
    const first = pending.add(0, (clientId) => ({ clientId, text: '1' }));
    const second = pending.add(0, (clientId) => ({ clientId, text: '2' }));
    pending.delete(first.clientId);
    const third = pending.add(0, (clientId) => ({ clientId, text: '3' })); // first's slot, free
    expect(pending.evicted).toBe(0);
    const fourth = pending.add(0, (clientId) => ({ clientId, text: '4' })); // second's slot, still waiting
    expect(pending.evicted).toBe(1);
    expect(pending.get(second.clientId)).toBeUndefined();
    expect(pending.get(first.clientId)).toBeUndefined();
    expect([pending.get(third.clientId), pending.get(fourth.clientId)]).toEqual([third, fourth]);
    expect(pending.size).toBe(2);
  });

  it('refuses more chats than a clientId can name', () => {
    expect(() => new PendingSends<Sent>(0x10001)).toThrow('at most 65,536 chats');
  });
});
