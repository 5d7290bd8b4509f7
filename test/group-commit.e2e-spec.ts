import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
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
});
