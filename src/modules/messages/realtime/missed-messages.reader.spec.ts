import type { Message } from '../domain/message.js';
import type { MessageRepository } from '../message.repository.js';
import { MissedMessagesReader } from './missed-messages.reader.js';

/** A store of one chat with messages 1..20 and members a and b, counting its queries. */
function fakeStore() {
  const calls = { memberIds: 0, history: 0 };
  const message = (seq: number): Message => ({
    id: `m${seq}`,
    chatId: 'c',
    seq,
    senderId: 'a',
    clientId: null,
    text: `text ${seq}`,
    createdAt: new Date(0),
    editedAt: null,
    deletedAt: null,
  });
  const store = {
    async memberIds() {
      calls.memberIds++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return ['a', 'b'];
    },
    async history(_chatId: string, query: { after?: number; limit: number }) {
      calls.history++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const out: Message[] = [];
      for (let seq = (query.after ?? 0) + 1; seq <= 20 && out.length < query.limit; seq++) out.push(message(seq));
      return out;
    },
  };
  return { calls, reader: new MissedMessagesReader(store as unknown as MessageRepository) };
}

describe('MissedMessagesReader', () => {
  it('reads the gap for a member as new_message frames, oldest first, up to the seq asked', async () => {
    const { reader } = fakeStore();
    const frames = await reader.read('a', 'c', 4, 7);
    expect(frames.map((f) => f.seq)).toEqual([5, 6, 7]);
    expect(JSON.parse(frames[0].frame)).toMatchObject({ type: 'new_message', message: { id: 'm5', seq: 5, text: 'text 5' } });
  });

  it('refuses someone who is not a member now, and reads nothing for an empty or overlong gap', async () => {
    const { reader, calls } = fakeStore();
    await expect(reader.read('stranger', 'c', 4, 7)).rejects.toMatchObject({ code: 'CHAT_NOT_FOUND' });
    expect(calls.history).toBe(0);
    expect(await reader.read('a', 'c', 7, 7)).toEqual([]);
    expect(await reader.read('a', 'c', 0, 51)).toEqual([]);
  });

  it('shares reads in flight: a thousand connections with the same gap cost one membership query and one history query', async () => {
    const { reader, calls } = fakeStore();
    const reads = await Promise.all(Array.from({ length: 1000 }, (_, i) => reader.read(i % 2 ? 'a' : 'b', 'c', 2, 4)));
    expect(calls).toEqual({ memberIds: 1, history: 1 });
    for (const frames of reads) expect(frames.map((f) => f.seq)).toEqual([3, 4]);
    await reader.read('a', 'c', 2, 4); // settled: the next read asks again, for membership as it is then
    expect(calls).toEqual({ memberIds: 2, history: 2 });
  });

  it('makes no more than 32 distinct reads at once, answering the rest with nothing', async () => {
    const { reader, calls } = fakeStore();
    const ranges = Array.from({ length: 40 }, (_, i) => [i % 10, (i % 10) + 1 + Math.floor(i / 10)] as const);
    const reads = await Promise.all(ranges.map(([after, upTo]) => reader.read('a', 'c', after, upTo)));
    expect(calls.history).toBeLessThanOrEqual(32);
    expect(reads.filter((frames) => frames.length === 0).length).toBeGreaterThan(0);
    expect(await reader.read('a', 'c', 0, 3)).toHaveLength(3); // once they settle, reads go on
  });
});
