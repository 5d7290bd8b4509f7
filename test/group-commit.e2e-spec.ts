import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { CommandBus } from '@nestjs/cqrs';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ChatRepository } from '../src/modules/chats/chat.repository.js';
import { SendMessageCommand } from '../src/modules/messages/commands/send-message.command.js';
import { TypeormMessageRepository } from '../src/modules/messages/infrastructure/persistence/typeorm/typeorm-message.repository.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { signUpAndIn } from './support/accounts.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe.each(DATABASE_KINDS)('group commit of sends (%s)', (kind) => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    app = await startTestApp(db.env);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('stores concurrent sends to many chats in shared statements, each chat numbered 1..n', async () => {
    const request = httpClient(app.url);
    const [alice, bob] = await Promise.all([signUpAndIn(request, 'Alice'), signUpAndIn(request, 'Bob')]);
    const chats: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await request('POST', '/api/v1/chats', {
        token: alice.accessToken,
        body: { type: 'group', title: `GC ${i}`, memberIds: [bob.user.id] },
      });
      chats.push(created.body.id);
    }
    const repository = app.app.get(MessageRepository) as TypeormMessageRepository;
    const single = jest.spyOn(repository as any, 'appendOne');
    const repeatId = randomUUID();
    try {
      const results = await Promise.all(
        Array.from({ length: 240 }, (_, i) =>
          repository.append({
            id: randomUUID(),
            chatId: chats[i < 3 ? 0 : i % 12],
            senderId: i < 3 || i % 2 ? alice.user.id : bob.user.id,
            clientId: i < 3 ? repeatId : null,
            text: `m${i}`,
          }),
        ),
      );
      // Most sends went through the batch statement, not one by one.
      expect(single.mock.calls.length).toBeLessThan(40);
      expect(results.filter((r) => r.created)).toHaveLength(238); // the clientId was sent three times
      expect(new Set(results.slice(0, 3).map((r) => r.message.id)).size).toBe(1);
    } finally {
      single.mockRestore();
    }
    const rows: Array<{ chat_id: string; seqs: number[] }> = await app.app
      .get(DataSource)
      .query(`SELECT chat_id, array_agg(seq::int ORDER BY seq) AS seqs FROM messages GROUP BY chat_id`);
    expect(rows).toHaveLength(12);
    for (const row of rows) expect(row.seqs).toEqual(Array.from({ length: row.seqs.length }, (_, i) => i + 1));
    expect(rows.reduce((n, r) => n + r.seqs.length, 0)).toBe(238);
    // Each sender's read pointer sits on their newest message in the chat.
    const pointers: Array<{ ok: boolean }> = await app.app.get(DataSource).query(
      `SELECT bool_and(m.last_read_seq = (SELECT max(x.seq) FROM messages x WHERE x.chat_id = m.chat_id AND x.sender_id = m.user_id)) AS ok
         FROM chat_members m WHERE EXISTS (SELECT 1 FROM messages x WHERE x.chat_id = m.chat_id AND x.sender_id = m.user_id)`,
    );
    expect(pointers[0].ok).toBe(true);
  });

  it('answers a send whose batch committed but whose answer was lost as stored, when stored again one by one, and stores it once', async () => {
    // A batch whose connection ends after its commit fails as a whole, and its sends are stored
    // one by one: a send without a clientId then meets its own id, already stored.
    const request = httpClient(app.url);
    const alice = await signUpAndIn(request, 'Alice');
    const chat = await request('POST', '/api/v1/chats', {
      token: alice.accessToken,
      body: { type: 'group', title: 'Lost', memberIds: [] },
    });
    const repository = app.app.get(MessageRepository) as unknown as {
      appendOne(input: object): Promise<{ message: { id: string; seq: number }; created: boolean; memberIds: string[] }>;
    };
    const input = { id: randomUUID(), chatId: chat.body.id, senderId: alice.user.id, clientId: null, text: 'once' };
    const first = await repository.appendOne(input);
    const again = await repository.appendOne(input);
    expect(again).toMatchObject({ created: true, message: { id: input.id, seq: first.message.seq }, memberIds: [alice.user.id] });
    const rows: Array<{ n: number; last: number }> = await app.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n, (SELECT last_seq::int FROM chats WHERE id = $1) AS last FROM messages WHERE chat_id = $1`, [
        chat.body.id,
      ]);
    expect(rows[0]).toEqual({ n: 1, last: 1 });
  });
});

describe('concurrency on member rows (postgres)', () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('never deadlocks when every member of a group sends at once, round after round', async () => {
    // Each send moves its sender's read pointer and then claims seen notices for the other
    // senders; with everyone doing that at once, member rows are locked by many statements.
    const request = httpClient(app.url);
    const people = await Promise.all(Array.from({ length: 4 }, (_, i) => signUpAndIn(request, `Member ${i}`)));
    const [owner, ...others] = people;
    const chat = await request('POST', '/api/v1/chats', {
      token: owner.accessToken,
      body: { type: 'group', title: 'Busy', memberIds: others.map((p) => p.user.id) },
    });
    const commands = app.app.get(CommandBus);
    const rounds = 20;
    const perMember = 30;
    const failures: unknown[] = [];
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.allSettled(
        people.flatMap((p) =>
          Array.from({ length: perMember }, (_, k) =>
            commands.execute(new SendMessageCommand(p.user.id, chat.body.id, `r${round} k${k}`, null)),
          ),
        ),
      );
      failures.push(...results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason));
    }
    expect(failures.map(String)).toEqual([]);
    const [row] = await app.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n, max(seq)::int AS top FROM messages WHERE chat_id = $1`, [chat.body.id]);
    expect(row).toEqual({ n: rounds * people.length * perMember, top: rounds * people.length * perMember });
  });

  /** A group of a reader and three senders who have each sent one message and read everything. */
  async function groupWithSenders() {
    const request = httpClient(app.url);
    const [reader, ...senders] = await Promise.all(Array.from({ length: 4 }, (_, i) => signUpAndIn(request, `Locker ${i}`)));
    const chat = await request('POST', '/api/v1/chats', {
      token: reader.accessToken,
      body: { type: 'group', title: `Locks ${randomUUID()}`, memberIds: senders.map((s) => s.user.id) },
    });
    const chatId: string = chat.body.id;
    const messages = app.app.get(MessageRepository);
    for (const s of senders) await messages.append({ id: randomUUID(), chatId, senderId: s.user.id, clientId: null, text: 'hi' });
    for (const p of [reader, ...senders]) await messages.moveReadPointer(chatId, p.user.id, senders.length);
    return { chatId, readerId: reader.user.id, senderIds: senders.map((s) => s.user.id).sort() };
  }

  /** Polls until a statement of this database whose text contains `marker` waits for a lock. */
  async function untilWaitingForLock(marker: string, failure: string): Promise<void> {
    const dataSource = app.app.get(DataSource);
    for (let i = 0; ; i++) {
      const [waiting] = await dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
        [marker],
      );
      if (waiting.n > 0) return;
      if (i > 300) throw new Error(failure);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The repository's batch path, called directly (it is private). */
  function storeBatch<I>(inputs: I[]): Promise<Array<PromiseSettledResult<{ memberIds: string[] }>>> {
    const repository = app.app.get(MessageRepository) as unknown as {
      storeBatch(i: I[]): Promise<Array<PromiseSettledResult<{ memberIds: string[] }>>>;
    };
    return repository.storeBatch(inputs);
  }

  /**
   * Holds the lock on the lowest of the senders' member rows, starts `statement` (which must lock
   * all of them), waits until it queues for that row, and then takes the highest row without
   * waiting: that only works if the statement took none of the others before queueing, which is
   * what locking in user_id order guarantees, so that no two such statements can deadlock.
   */
  async function expectLocksInUserIdOrder<T>(chatId: string, senderIds: string[], marker: string, statement: () => Promise<T>): Promise<T> {
    const dataSource = app.app.get(DataSource);
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2 FOR UPDATE`, [chatId, senderIds[0]]);
      const running = statement();
      running.catch(() => undefined); // awaited below
      await untilWaitingForLock(marker, `the statement (${marker}) never waited for the locked member row`);
      await expect(
        holder.query(`SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2 FOR UPDATE NOWAIT`, [
          chatId,
          senderIds[senderIds.length - 1],
        ]),
      ).resolves.toHaveLength(1);
      await holder.commitTransaction();
      return await running;
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }

  it('plans the batch statement with key lookups only, though its tables are tiny when it is planned', async () => {
    // The plan is made once per connection and kept; made from tables this small, a planner left
    // to itself scans them whole, and would go on doing so once they were large.
    const { chatId, senderIds } = await groupWithSenders();
    const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    try {
      const plans: string[] = [];
      client.on('notice', (notice) => plans.push(notice.message ?? ''));
      await client.query(`LOAD 'auto_explain'`);
      await client.query(`SET auto_explain.log_min_duration = 0`);
      await client.query(`SET auto_explain.log_nested_statements = on`);
      await client.query(`SET client_min_messages = log`);
      const send = [[randomUUID()], [chatId], [senderIds[0]], [null], ['planned'], [0]];
      const { rows } = await client.query('SELECT * FROM parley_append_messages($1, $2, $3, $4, $5, $6)', send);
      expect(rows).toHaveLength(1);
      const statementPlan = plans.find((plan) => plan.includes('Insert on messages'));
      expect(statementPlan).toBeDefined();
      expect(statementPlan).toContain('Index');
      // Key lookups only, in both of its statements (the chat locks, then the rest): no scan of a
      // whole table, and no hash or merge join (which would read one side whole, by index or not).
      const lockPlan = plans.find((plan) => plan.includes('LockRows') && !plan.includes('Insert on messages'));
      expect(lockPlan).toContain('Index');
      for (const plan of [statementPlan, lockPlan]) expect(plan).not.toMatch(/Seq Scan|Hash (Semi |Anti )?Join|Merge (Semi |Anti )?Join/);
    } finally {
      await client.end();
    }
  });

  it('a seen-notice claim takes the senders member rows in user_id order', async () => {
    const { chatId, readerId, senderIds } = await groupWithSenders();
    const messages = app.app.get(MessageRepository);
    // Found by its start: pg_stat_activity keeps the first 1 KB of a statement's text.
    const notices = await expectLocksInUserIdOrder(chatId, senderIds, 'WITH senders AS', () =>
      messages.claimSeenNotices(chatId, readerId, 0, senderIds.length),
    );
    expect(notices.map((n) => n.senderId).sort()).toEqual(senderIds);
  });

  it('a batch of sends takes the senders member rows in user_id order', async () => {
    // An unordered update meets the rows in hash order, which matches user_id order by chance
    // about as often as not: three groups make a regression show up almost surely.
    for (let attempt = 0; attempt < 3; attempt++) {
      const { chatId, senderIds } = await groupWithSenders();
      // Newest-first, so that input order and user_id order differ.
      const inputs = [...senderIds].reverse().map((senderId) => ({ id: randomUUID(), chatId, senderId, clientId: null, text: 'again' }));
      const results = await expectLocksInUserIdOrder(chatId, senderIds, 'parley_append_messages', () => storeBatch(inputs));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    }
  });

  it('deleting a chat takes its member rows in user_id order, so it never deadlocks with a seen-notice claim', async () => {
    const { chatId, readerId, senderIds } = await groupWithSenders();
    const dataSource = app.app.get(DataSource);
    // Member rows rewritten highest user_id first: the delete's cascade, left to itself, meets them
    // in that order (this small table is scanned whole) and would hold the highest when it queued.
    const everyone = [readerId, ...senderIds].sort().reverse();
    for (const userId of everyone)
      await dataSource.query(`UPDATE chat_members SET role = role WHERE chat_id = $1 AND user_id = $2`, [chatId, userId]);
    const chats = app.app.get(ChatRepository);
    const members = await expectLocksInUserIdOrder(chatId, senderIds, '', () =>
      chats.delete(chatId, { actorId: readerId, allow: () => {} }),
    );
    expect(members.sort()).toEqual([...everyone].sort());
    expect(await chats.findById(chatId)).toBeUndefined();
  });

  /**
   * Removes `removedId` from the chat in a transaction held open the way removeMember runs it
   * (the chat row locked first), starts `send`, waits until the send queues for that lock, and
   * only then commits the removal: the send's statement started before the removal committed.
   */
  async function sendDuringRemoval<T>(chatId: string, removedId: string, send: () => Promise<T>): Promise<T> {
    const dataSource = app.app.get(DataSource);
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT 1 FROM chats WHERE id = $1 FOR UPDATE`, [chatId]);
      await holder.query(`DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2`, [chatId, removedId]);
      const running = send();
      running.catch(() => undefined); // awaited below
      await untilWaitingForLock('', 'the send never waited for the chat row the removal holds');
      await holder.commitTransaction();
      return await running;
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }

  async function storedTexts(chatId: string): Promise<string[]> {
    const rows: Array<{ text: string }> = await app.app
      .get(DataSource)
      .query(`SELECT text FROM messages WHERE chat_id = $1 ORDER BY seq`, [chatId]);
    return rows.map((r) => r.text);
  }

  it('lets sends to other chats through while a batch waits for a chat held locked (as deleting a long chat holds it)', async () => {
    const locked = await groupWithSenders();
    const other = await groupWithSenders();
    const messages = app.app.get(MessageRepository);
    const sendTo = ({ chatId, senderIds }: { chatId: string; senderIds: string[] }, text: string) =>
      messages.append({ id: randomUUID(), chatId, senderId: senderIds[0], clientId: null, text });
    const holder = app.app.get(DataSource).createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT 1 FROM chats WHERE id = $1 FOR UPDATE`, [locked.chatId]);
      const blocked = sendTo(locked, 'waits');
      blocked.catch(() => undefined); // awaited below
      await untilWaitingForLock('', 'the send never waited for the locked chat');
      const elsewhere = sendTo(other, 'goes');
      const timeout = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 5_000));
      expect(await Promise.race([elsewhere.then((r) => r.message.text), timeout])).toBe('goes');
      await holder.commitTransaction();
      expect((await blocked).message.text).toBe('waits');
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  });

  it('refuses a lone send whose sender was removed while it waited for the chat', async () => {
    const { chatId, senderIds } = await groupWithSenders();
    const repository = app.app.get(MessageRepository);
    const before = await storedTexts(chatId);
    await expect(
      sendDuringRemoval(chatId, senderIds[0], () =>
        repository.append({ id: randomUUID(), chatId, senderId: senderIds[0], clientId: randomUUID(), text: 'too late' }),
      ),
    ).rejects.toMatchObject({ code: 'CHAT_NOT_FOUND' });
    expect(await storedTexts(chatId)).toEqual(before);
  });

  it('refuses, in a batch, the send of a sender removed while it waited, and stores the others', async () => {
    const { chatId, senderIds } = await groupWithSenders();
    const inputs = senderIds.map((senderId, i) => ({ id: randomUUID(), chatId, senderId, clientId: null, text: `batch ${i}` }));
    const results = await sendDuringRemoval(chatId, senderIds[1], () => storeBatch(inputs));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    const texts = await storedTexts(chatId);
    expect(texts.slice(-2)).toEqual(['batch 0', 'batch 2']);
    expect(texts).not.toContain('batch 1');
  });

  it('does not deliver a send to a member removed while it waited for the chat', async () => {
    const { chatId, readerId, senderIds } = await groupWithSenders();
    const repository = app.app.get(MessageRepository);
    const lone = await sendDuringRemoval(chatId, readerId, () =>
      repository.append({ id: randomUUID(), chatId, senderId: senderIds[0], clientId: null, text: 'lone' }),
    );
    expect(lone.memberIds.sort()).toEqual(senderIds);

    const { chatId: other, readerId: otherReader, senderIds: otherSenders } = await groupWithSenders();
    const inputs = otherSenders.map((senderId, i) => ({ id: randomUUID(), chatId: other, senderId, clientId: null, text: `batch ${i}` }));
    const batch = await sendDuringRemoval(other, otherReader, () => storeBatch(inputs));
    for (const result of batch) {
      expect(result.status).toBe('fulfilled');
      expect((result as PromiseFulfilledResult<{ memberIds: string[] }>).value.memberIds.sort()).toEqual(otherSenders);
    }
  });
});
