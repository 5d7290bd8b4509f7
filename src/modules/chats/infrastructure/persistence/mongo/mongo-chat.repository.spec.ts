import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Connection } from 'mongoose';
import { MongoChatRepository } from './mongo-chat.repository.js';

/**
 * The purge of a deleted chat's messages, with fakes of the few model calls it makes (no MongoDB
 * server can be had where this is built; the contract suites cover the rest on a real one).
 */
type Doc = { _id: string; chatId?: string; seq?: number; lastSeq?: number; purgedTo?: number; memberIds?: string[] };
type SeqRange = { $gt: number; $lte: number };

/** A query result that is awaited directly, or through `.lean()` / `.session()` / `.sort()` as Mongoose allows. */
const query = <T>(value: () => T) => {
  const run = () => Promise.resolve().then(value);
  const chain = { lean: run, then: (ok: (v: T) => unknown, fail?: (e: unknown) => unknown) => run().then(ok, fail) };
  return Object.assign(chain, { session: () => chain, sort: () => chain });
};

class FakeCollection {
  docs = new Map<string, Doc>();
  /** The next this many message removals fail. */
  failDeletes = 0;
  /** The filters deleteMany was called with. */
  removals: Array<{ chatId?: string; seq?: SeqRange }> = [];

  constructor(docs: Doc[] = []) {
    for (const doc of docs) this.docs.set(doc._id, doc);
  }

  ids(): string[] {
    return [...this.docs.keys()].sort();
  }

  exists(filter: { _id: string }) {
    return query(() => this.docs.has(filter._id));
  }
  findById(id: string) {
    return query(() => this.docs.get(id) ?? null);
  }
  find() {
    return query(() => [...this.docs.values()]);
  }
  /** The highest seq of a chat (the only findOne the purge makes). */
  findOne(filter: { chatId: string }) {
    return query(() => [...this.docs.values()].filter((d) => d.chatId === filter.chatId).sort((a, b) => b.seq! - a.seq!)[0] ?? null);
  }
  /** A change's claim on a chat record (`$inc`). */
  findOneAndUpdate(filter: { _id: string }, update: { $inc: Record<string, number> }) {
    return query(() => {
      const doc = this.docs.get(filter._id) as Record<string, unknown> | undefined;
      for (const [field, by] of Object.entries(update.$inc)) if (doc) doc[field] = ((doc[field] as number) ?? 0) + by;
      return doc ?? null;
    });
  }
  findOneAndDelete(filter: { _id: string }) {
    return query(() => {
      const doc = this.docs.get(filter._id);
      this.docs.delete(filter._id);
      return doc ?? null;
    });
  }
  async deleteMany(filter: { chatId?: string; seq?: SeqRange }): Promise<void> {
    if (this.failDeletes > 0) {
      this.failDeletes--;
      throw new Error('connection reset');
    }
    this.removals.push(filter);
    for (const [id, doc] of this.docs) {
      const inRange = !filter.seq || (doc.seq! > filter.seq.$gt && doc.seq! <= filter.seq.$lte);
      if (doc.chatId === filter.chatId && inRange) this.docs.delete(id);
    }
  }
  async deleteOne(filter: { _id: string }): Promise<void> {
    this.docs.delete(filter._id);
  }
  async updateOne(
    filter: { _id: string },
    update: { $setOnInsert?: object; $set?: object },
    options?: { upsert?: boolean },
  ): Promise<void> {
    const doc = this.docs.get(filter._id);
    if (doc) Object.assign(doc, update.$set);
    else if (options?.upsert) this.docs.set(filter._id, Object.assign({ _id: filter._id }, update.$setOnInsert, update.$set));
  }
  async insertMany(docs: Doc[]): Promise<void> {
    for (const doc of docs) this.docs.set(doc._id, doc);
  }
  async createIndexes(): Promise<void> {}
  async createCollection(): Promise<void> {}
  collection = { collectionName: 'fake' };
}

function fakeConnection(models: Record<string, FakeCollection>): Connection {
  return {
    models,
    // The data steps of earlier releases, noted as done (the contract suite runs them on MongoDB).
    collection: () => ({ findOne: async () => ({ _id: 'done' }), updateOne: async () => undefined }),
    startSession: async () => ({ withTransaction: (work: () => Promise<unknown>) => work(), endSession: async () => undefined }),
  } as unknown as Connection;
}

const messagesOf = (chatId: string, from: number, to: number): Doc[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ _id: `${chatId}-m${from + i}`, chatId, seq: from + i }));

describe('MongoChatRepository: the messages of a deleted chat', () => {
  let chats: FakeCollection;
  let members: FakeCollection;
  let messages: FakeCollection;
  let purges: FakeCollection;
  const owner = { actorId: 'u1', allow: () => undefined };

  beforeEach(() => {
    jest.useFakeTimers();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    chats = new FakeCollection([
      { _id: 'c1', lastSeq: 12_000, memberIds: ['u1', 'u2'] },
      { _id: 'c2', lastSeq: 2, memberIds: ['u1', 'u2'] },
    ]);
    members = new FakeCollection();
    messages = new FakeCollection([...messagesOf('c1', 1, 12_000), ...messagesOf('c2', 1, 2)]);
    purges = new FakeCollection();
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const open = () => MongoChatRepository.open(fakeConnection({ Chat: chats, ChatMember: members, Message: messages, ChatPurge: purges }));
  const remainingOf = (chatId: string) => [...messages.docs.values()].filter((d) => d.chatId === chatId).length;

  it('are removed after the delete has answered, a range of seqs at a time, and so is the record that they were owed a removal', async () => {
    const repository = await open();
    const deleting = repository.delete('c1', owner);
    await expect(deleting).resolves.toEqual(['u1', 'u2']);
    expect(chats.ids()).toEqual(['c2']);
    expect(chats.docs.get('c2')).not.toHaveProperty('claims'); // only the chat deleted was claimed
    expect(purges.docs.get('c1')).toMatchObject({ lastSeq: 12_000 });

    await repository.purgesIdle();
    expect(remainingOf('c1')).toBe(0);
    expect(remainingOf('c2')).toBe(2);
    expect(purges.ids()).toEqual([]);
    expect(messages.removals.map((r) => r.seq)).toEqual([
      { $gt: 0, $lte: 5_000 },
      { $gt: 5_000, $lte: 10_000 },
      { $gt: 10_000, $lte: 12_000 },
    ]);
  });

  it('when a removal fails, the delete still succeeds and the sweep a minute later goes on from where it got', async () => {
    const repository = await open();
    await repository.delete('c1', owner);
    messages.failDeletes = 1;
    await repository.purgesIdle();
    expect(Logger.prototype.warn).toHaveBeenCalledWith(expect.stringMatching(/messages of deleted chat c1 could not all be removed yet/));
    expect(purges.ids()).toEqual(['c1']);
    expect(remainingOf('c1')).toBe(12_000);

    await jest.advanceTimersByTimeAsync(60_000);
    await repository.purgesIdle();
    expect(remainingOf('c1')).toBe(0);
    expect(purges.ids()).toEqual([]);
  });

  it('are not tried again after shutdown: what is left is the next start’s', async () => {
    const repository = await open();
    await repository.onModuleDestroy();
    await repository.delete('c2', owner);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(remainingOf('c2')).toBe(2);
    expect(purges.ids()).toEqual(['c2']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('left by a process that stopped part-way are removed when the next one opens the store, from where it got', async () => {
    purges = new FakeCollection([{ _id: 'c1', lastSeq: 12_000, purgedTo: 10_000 }]);
    chats.docs.delete('c1');
    for (let seq = 1; seq <= 10_000; seq++) messages.docs.delete(`c1-m${seq}`);
    const repository = await open();
    await jest.advanceTimersByTimeAsync(0);
    await repository.purgesIdle();
    expect(remainingOf('c1')).toBe(0);
    expect(messages.removals.map((r) => r.seq)).toEqual([{ $gt: 10_000, $lte: 12_000 }]);
    expect(purges.ids()).toEqual([]);
  });

  it('owed by a record of an earlier release (no last seq) go up to the highest stored', async () => {
    purges = new FakeCollection([{ _id: 'c2' }]);
    chats.docs.delete('c2');
    const repository = await open();
    await jest.advanceTimersByTimeAsync(0);
    await repository.purgesIdle();
    expect(remainingOf('c2')).toBe(0);
    expect(remainingOf('c1')).toBe(12_000);
    expect(purges.ids()).toEqual([]);
  });

  it('owed by a record of an earlier release beside a chat made again with its id are the new chat’s: kept, and the record dropped', async () => {
    purges = new FakeCollection([{ _id: 'c2' }]); // chat c2 exists: made again by a release that did not clear the record
    const repository = await open();
    await jest.advanceTimersByTimeAsync(0);
    await repository.purgesIdle();
    expect(remainingOf('c2')).toBe(2);
    expect(purges.ids()).toEqual([]);
  });

  it('still owed when a chat of the same id is made again (the LOCAL seed group) go before it takes messages', async () => {
    const repository = await open();
    await repository.onModuleDestroy(); // the purge does not run: as when it failed
    await repository.delete('c2', owner);
    expect(purges.ids()).toEqual(['c2']);
    await repository.createGroup({ id: 'c2', title: 'Again', ownerId: 'u1' }, []);
    expect(remainingOf('c2')).toBe(0);
    expect(purges.ids()).toEqual([]);
  });

  it('owe nothing when the chat had no messages', async () => {
    chats.docs.set('c3', { _id: 'c3', lastSeq: 0, memberIds: ['u1'] });
    const repository = await open();
    await repository.delete('c3', owner);
    expect(purges.ids()).toEqual([]);
  });
});
