import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ChatRepository } from '../src/modules/chats/chat.repository.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { ChatHistoryPurge } from '../src/modules/chats/infrastructure/persistence/typeorm/chat-history-purge.js';
import { UserRepository } from '../src/modules/users/user.repository.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually } from './support/ws.js';

const HISTORY = 12_000;
const anyone = { actorId: randomUUID(), allow: () => undefined };

/**
 * A deleted chat's messages go after the delete commits, a range of seqs per short transaction
 * (ChatHistoryPurge), so the delete holds the chat's lock for milliseconds however long the
 * history. Against a real PostgreSQL.
 */
describe('the messages of a deleted chat (postgres)', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let dataSource: DataSource;

  const count = async (chatId: string): Promise<number> =>
    Number((await dataSource.query(`SELECT count(*) AS n FROM messages WHERE chat_id = $1`, [chatId]))[0].n);
  const purgeRecord = async (chatId: string) =>
    (await dataSource.query(`SELECT last_seq::int, purged_to::int FROM chat_purges WHERE chat_id = $1`, [chatId]))[0] as
      { last_seq: number; purged_to: number } | undefined;

  /** A group of two with `HISTORY` messages, written straight into the tables. */
  async function chatWithHistory(): Promise<string> {
    const users = app.app.get(UserRepository);
    const [owner, member] = [randomUUID(), randomUUID()];
    for (const id of [owner, member]) {
      await users.create({ id, email: `${id}@example.com`, name: 'Purge', passwordHash: 'x', emailConfirmedAt: null });
    }
    const chat = await app.app
      .get(ChatRepository)
      .createGroup({ id: randomUUID(), title: `Long ${randomUUID()}`, ownerId: owner }, [member]);
    await dataSource.query(
      `INSERT INTO messages (id, chat_id, seq, sender_id, text) SELECT gen_random_uuid(), $1, g, $2, 'm' || g FROM generate_series(1, $3::int) g`,
      [chat.id, owner, HISTORY],
    );
    await dataSource.query(`UPDATE chats SET last_seq = $2 WHERE id = $1`, [chat.id, HISTORY]);
    return chat.id;
  }

  /** Deletes the chat with the app's own purge held back: what the delete's transaction left. */
  async function deleteWithoutPurging(chatId: string): Promise<void> {
    const start = jest.spyOn(ChatHistoryPurge.prototype, 'start').mockImplementation(() => undefined);
    try {
      await app.app.get(ChatRepository).delete(chatId, anyone);
    } finally {
      start.mockRestore();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,chats,messages' });
    dataSource = app.app.get(DataSource);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('are left by the delete, owed a removal, then removed a range at a time with progress logged', async () => {
    const chatId = await chatWithHistory();
    await deleteWithoutPurging(chatId);
    expect(await app.app.get(ChatRepository).findById(chatId)).toBeUndefined();
    expect(await count(chatId)).toBe(HISTORY); // the delete's transaction did not touch them
    expect(await purgeRecord(chatId)).toEqual({ last_seq: HISTORY, purged_to: 0 });

    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const purge = new ChatHistoryPurge(dataSource, { batchSize: 5_000, progressEveryMs: 0 });
    purge.start(chatId);
    await purge.idle();
    expect(await count(chatId)).toBe(0);
    expect(await purgeRecord(chatId)).toBeUndefined();
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      `Removing the messages of deleted chat ${chatId}: 5,000 of 12,000 so far…`,
      `Removing the messages of deleted chat ${chatId}: 10,000 of 12,000 so far…`,
      expect.stringMatching(new RegExp(`^Removed the messages of deleted chat ${chatId} \\(12,000 in all\\) in \\d+\\.\\d s\\.$`)),
    ]);
  });

  it('are removed by the app itself after a delete, and a chat without messages owes nothing', async () => {
    const chatId = await chatWithHistory();
    expect((await app.app.get(ChatRepository).delete(chatId, anyone)).length).toBe(2);
    await eventually(async () => (await count(chatId)) === 0);
    await eventually(async () => (await purgeRecord(chatId)) === undefined);

    const owner = randomUUID();
    await app.app
      .get(UserRepository)
      .create({ id: owner, email: `${owner}@example.com`, name: 'E', passwordHash: 'x', emailConfirmedAt: null });
    const empty = await app.app.get(ChatRepository).createGroup({ id: randomUUID(), title: 'Empty', ownerId: owner }, []);
    await deleteWithoutPurging(empty.id);
    expect(await purgeRecord(empty.id)).toBeUndefined();
  });

  it('stopped part-way, go on from where the removal got, also with two instances at once', async () => {
    const chatId = await chatWithHistory();
    await deleteWithoutPurging(chatId);
    const first = new ChatHistoryPurge(dataSource, { batchSize: 1_000 });
    first.start(chatId);
    await first.stop(); // the batch in flight commits; no other starts
    expect(await purgeRecord(chatId)).toEqual({ last_seq: HISTORY, purged_to: 1_000 });
    expect(await count(chatId)).toBe(HISTORY - 1_000);
    first.start(chatId);
    first.resumeLeft();
    await first.idle();
    expect(await count(chatId)).toBe(HISTORY - 1_000); // stopped for good

    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const [a, b] = [new ChatHistoryPurge(dataSource, { batchSize: 1_000 }), new ChatHistoryPurge(dataSource, { batchSize: 1_000 })];
    a.resumeLeft();
    b.resumeLeft();
    await Promise.all([a.idle(), b.idle()]);
    // One of them may have found the record held by the other and left it to it; together they finish.
    await eventually(async () => (await purgeRecord(chatId)) === undefined);
    expect(await count(chatId)).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledWith('Found 1 deleted chat(s) whose messages are still to be removed; removing them…');
  });

  it('of several chats deleted at once are removed one chat after another on an instance', async () => {
    const [first, second] = [await chatWithHistory(), await chatWithHistory()];
    await deleteWithoutPurging(first);
    await deleteWithoutPurging(second);
    let inFlight = 0;
    let most = 0;
    const counting = new Proxy(dataSource, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (key !== 'transaction') return typeof value === 'function' ? value.bind(target) : value;
        return async (work: (tx: unknown) => Promise<unknown>) => {
          most = Math.max(most, ++inFlight);
          try {
            return await target.transaction(work as never);
          } finally {
            inFlight--;
          }
        };
      },
    });
    const purge = new ChatHistoryPurge(counting, { batchSize: 2_000 });
    purge.start(first);
    purge.start(second);
    await purge.idle();
    expect([await count(first), await count(second)]).toEqual([0, 0]);
    expect(most).toBe(1);
  });

  it('when a batch fails, are tried again later, the failure logged', async () => {
    const chatId = await chatWithHistory();
    await deleteWithoutPurging(chatId);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    let failures = 1;
    const flaky = new Proxy(dataSource, {
      get(target, key, receiver) {
        if (key === 'transaction' && failures > 0) {
          failures--;
          return () => Promise.reject(new Error('Connection terminated unexpectedly'));
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const purge = new ChatHistoryPurge(flaky, { sweepEveryMs: 100 });
    purge.start(chatId);
    await purge.idle();
    expect(warn).toHaveBeenCalledWith(
      `The messages of deleted chat ${chatId} could not all be removed yet (Connection terminated unexpectedly); trying again within 0.1 s.`,
    );
    expect(await count(chatId)).toBe(HISTORY);
    purge.startSweeping();
    await eventually(async () => (await count(chatId)) === 0);
    expect(await purgeRecord(chatId)).toBeUndefined();
    await purge.stop();
  });

  it('left by another instance are found by the next sweep, without a restart', async () => {
    const sweeping = new ChatHistoryPurge(dataSource, { sweepEveryMs: 100 });
    sweeping.startSweeping(); // finds nothing yet
    try {
      const chatId = await chatWithHistory();
      await deleteWithoutPurging(chatId); // as if the instance that deleted it had stopped
      await eventually(async () => (await purgeRecord(chatId)) === undefined, 5_000);
      expect(await count(chatId)).toBe(0);
    } finally {
      await sweeping.stop();
    }
  });

  it('still owed when a chat of the same id is made again (the LOCAL seed group), go before it takes messages', async () => {
    const chats = app.app.get(ChatRepository);
    const chatId = await chatWithHistory();
    const { ownerId } = (await chats.findById(chatId))!;
    await deleteWithoutPurging(chatId);
    const again = await chats.createGroup({ id: chatId, title: `Again ${randomUUID()}`, ownerId: ownerId! }, []);
    expect(again.lastSeq).toBe(0);
    expect(await count(chatId)).toBe(0);
    expect(await purgeRecord(chatId)).toBeUndefined();
    const sent = await app.app
      .get(MessageRepository)
      .append({ id: randomUUID(), chatId, senderId: ownerId!, clientId: null, text: 'first again' });
    expect(sent.message.seq).toBe(1);
  });

  it('left by a stopped process are removed when the app next starts', async () => {
    const chatId = await chatWithHistory();
    await deleteWithoutPurging(chatId);
    await app.close();
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,chats,messages' });
    dataSource = app.app.get(DataSource);
    await eventually(async () => (await count(chatId)) === 0);
    expect(await purgeRecord(chatId)).toBeUndefined();
  });
});
