import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Connection } from 'mongoose';
import { MongoChatRepository } from './mongo-chat.repository.js';

/**
 * The purge of a deleted chat's messages, with fakes of the few model calls it makes (no MongoDB
 * server can be had where this is built; the contract suites cover the rest on a real one).
 */
type Doc = { _id: string; chatId?: string };

/** A query result that is awaited directly, or through `.lean()` / `.session()` as Mongoose allows. */
const query = <T>(value: () => T) => {
  const run = () => Promise.resolve().then(value);
  return { lean: run, session: run, then: (ok: (v: T) => unknown, fail?: (e: unknown) => unknown) => run().then(ok, fail) };
};

class FakeCollection {
  docs = new Map<string, Doc>();
  failDeletes = 0;

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
  findOneAndDelete(filter: { _id: string }) {
    return query(() => {
      const doc = this.docs.get(filter._id);
      this.docs.delete(filter._id);
      return doc ? Object.assign({ memberIds: ['u1', 'u2'] }, doc) : null;
    });
  }
  async deleteMany(filter: { chatId: string }): Promise<void> {
    if (this.failDeletes > 0) {
      this.failDeletes--;
      throw new Error('connection reset');
    }
    for (const [id, doc] of this.docs) if (doc.chatId === filter.chatId) this.docs.delete(id);
  }
  async deleteOne(filter: { _id: string }): Promise<void> {
    this.docs.delete(filter._id);
  }
  async updateOne(filter: { _id: string }): Promise<void> {
    this.docs.set(filter._id, { _id: filter._id });
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
    chats = new FakeCollection([{ _id: 'c1' }, { _id: 'c2' }]);
    members = new FakeCollection();
    messages = new FakeCollection([
      { _id: 'm1', chatId: 'c1' },
      { _id: 'm2', chatId: 'c1' },
      { _id: 'm3', chatId: 'c2' },
    ]);
    purges = new FakeCollection();
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const open = () => MongoChatRepository.open(fakeConnection({ Chat: chats, ChatMember: members, Message: messages, ChatPurge: purges }));

  it('are removed after the commit, and so is the record that they were owed a removal', async () => {
    const repository = await open();
    await expect(repository.delete('c1', owner)).resolves.toEqual(['u1', 'u2']);
    expect(chats.ids()).toEqual(['c2']);
    expect(messages.ids()).toEqual(['m3']);
    expect(purges.ids()).toEqual([]);
  });

  it('when removing them fails, the delete still succeeds and a retry a minute later removes them', async () => {
    const repository = await open();
    messages.failDeletes = 1;
    await expect(repository.delete('c1', owner)).resolves.toEqual(['u1', 'u2']); // the chat is gone: its members are told
    expect(messages.ids()).toEqual(['m1', 'm2', 'm3']);
    expect(purges.ids()).toEqual(['c1']);
    expect(Logger.prototype.warn).toHaveBeenCalledWith(expect.stringMatching(/messages of deleted chat c1 could not be removed yet/));

    await jest.advanceTimersByTimeAsync(60_000);
    expect(messages.ids()).toEqual(['m3']);
    expect(purges.ids()).toEqual([]);
  });

  it('are not retried after shutdown, and a purge cut short by it is not logged as one to retry', async () => {
    const repository = await open();
    messages.failDeletes = 1;
    await repository.delete('c1', owner);
    expect(purges.ids()).toEqual(['c1']);
    repository.onModuleDestroy();
    messages.failDeletes = 1;
    await repository.delete('c2', owner);
    expect(Logger.prototype.warn).toHaveBeenCalledTimes(1); // the first failure only
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(messages.ids()).toEqual(['m1', 'm2', 'm3']); // left for the next start
    expect(purges.ids()).toEqual(['c1', 'c2']);
  });

  it('left by a process that stopped before removing them are removed when the next one opens the store', async () => {
    purges = new FakeCollection([{ _id: 'c1' }]);
    chats.docs.delete('c1');
    await open();
    await jest.advanceTimersByTimeAsync(0);
    expect(messages.ids()).toEqual(['m3']);
    expect(purges.ids()).toEqual([]);
  });
});
