import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import pg from 'pg';
import { ChatRepository } from '../src/modules/chats/chat.repository.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { UserRepository } from '../src/modules/users/user.repository.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { signUpAndIn } from './support/accounts.js';
import { httpClient } from './support/http.js';
import { connectReady } from './support/ws.js';

/**
 * Reads that must not grow with the data: each is run on tables filled well past a page, and the
 * statements it sent are run again under EXPLAIN ANALYZE, which counts the rows every scan in
 * them read. Rows, not time: the count is the same on a busy machine.
 */

/** What one statement read: rows out of every scan node plus the rows its filters dropped, by table. */
type RowsRead = Record<string, number>;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function rowsRead(node: PlanNode, into: RowsRead = {}): RowsRead {
  if (node['Relation Name'] && /Scan/.test(node['Node Type'])) {
    const rows = node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0);
    into[node['Relation Name']] = (into[node['Relation Name']] ?? 0) + rows * node['Actual Loops'];
  }
  for (const child of node.Plans ?? []) rowsRead(child, into);
  return into;
}

const total = (read: RowsRead) => Object.values(read).reduce((n, r) => n + r, 0);

const MESSAGES = 20_000;
const MEMBERS = 200;
const SENDERS = 50;
const DELETED_EVERY = 97;
const OTHER_CHATS = 300;
const STRANGERS_CHATS = 3_000;
const USERS = 5_000;

describe('reads stay within a page as the data grows (postgres)', () => {
  jest.setTimeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: pg.Client;
  const reader = randomUUID();
  const bigChat = randomUUID();
  /** The statements the app sent while `recording` ran. */
  let sent: Array<{ text: string; values: unknown[] }> | undefined;
  const originalQuery = pg.Client.prototype.query;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
    sql = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await sql.connect();
    // Users; the reader; a group of MEMBERS with MESSAGES messages from SENDERS of them (every
    // DELETED_EVERY-th deleted), which the reader has not read at all while everyone else has;
    // OTHER_CHATS more groups of the reader's; STRANGERS_CHATS groups the reader is not in.
    await sql.query(
      `INSERT INTO users (id, email, name, password_hash)
       SELECT CASE WHEN i = 0 THEN $1::uuid ELSE gen_random_uuid() END, 'u' || i || '@scale.test', 'User ' || i, 'x'
         FROM generate_series(0, ${USERS - 1}) i`,
      [reader],
    );
    await sql.query(`CREATE TEMP TABLE numbered AS SELECT id, row_number() OVER (ORDER BY id = $1 DESC, id) - 1 AS n FROM users`, [reader]);
    await sql.query(`INSERT INTO chats (id, type, title, owner_id, last_seq) VALUES ($1, 'group', 'Big', $2, ${MESSAGES})`, [
      bigChat,
      reader,
    ]);
    await sql.query(
      `INSERT INTO chat_members (chat_id, user_id, role, last_read_seq)
       SELECT $1, id, CASE WHEN n = 0 THEN 'owner' ELSE 'member' END, CASE WHEN n = 0 THEN 0 ELSE ${MESSAGES} END
         FROM numbered WHERE n < ${MEMBERS}`,
      [bigChat],
    );
    await sql.query(
      `INSERT INTO messages (id, chat_id, seq, sender_id, text, deleted_at)
       SELECT gen_random_uuid(), $1, s, u.id, CASE WHEN s % ${DELETED_EVERY} = 0 THEN NULL ELSE 'm' || s END,
              CASE WHEN s % ${DELETED_EVERY} = 0 THEN now() END
         FROM generate_series(1, ${MESSAGES}) s JOIN numbered u ON u.n = 1 + s % ${SENDERS}`,
      [bigChat],
    );
    await sql.query(
      `INSERT INTO chats (id, type, title, owner_id, last_activity_at)
       SELECT gen_random_uuid(), 'group', 'G' || i, (SELECT id FROM numbered WHERE n = 1 + i % 1000), now() - i * interval '1 minute'
         FROM generate_series(1, ${OTHER_CHATS + STRANGERS_CHATS}) i`,
    );
    await sql.query(
      `INSERT INTO chat_members (chat_id, user_id, role)
       SELECT c.id, c.owner_id, 'owner' FROM chats c WHERE c.id <> $1`,
      [bigChat],
    );
    await sql.query(
      `INSERT INTO chat_members (chat_id, user_id, role)
       SELECT c.id, $1, 'member' FROM chats c WHERE c.id <> $2 AND c.title IN (SELECT 'G' || i FROM generate_series(1, ${OTHER_CHATS}) i)`,
      [reader, bigChat],
    );
    await sql.query('ANALYZE');
  });

  afterAll(async () => {
    pg.Client.prototype.query = originalQuery;
    await sql?.end();
    await app?.close();
    await db?.dispose();
  });

  /**
   * Runs `read` and returns its result with the rows each statement it sent read (EXPLAIN
   * ANALYZE, rolled back). Statements of the app's own (a worker polling) can come meanwhile:
   * `pick` names the ones to measure by their text, and there must be one at least.
   */
  async function measured<T>(read: () => Promise<T>, pick: RegExp = /./): Promise<{ result: T; reads: RowsRead[]; statements: string[] }> {
    sent = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const [text, values] = args;
      // A statement without parameters counts as well (values left out); a callback in their place is no parameters either.
      if (sent && this !== sql && typeof text === 'string') sent.push({ text, values: Array.isArray(values) ? values : [] });
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof originalQuery;
    let result: T;
    try {
      result = await read();
    } finally {
      pg.Client.prototype.query = originalQuery;
    }
    const statements = sent.filter(({ text }) => pick.test(text));
    sent = undefined;
    expect(statements.length).toBeGreaterThan(0);
    const reads: RowsRead[] = [];
    for (const { text, values } of statements) {
      await sql.query('BEGIN');
      try {
        const { rows } = await sql.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        reads.push(rowsRead((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0].Plan));
      } finally {
        await sql.query('ROLLBACK');
      }
    }
    return { result, reads, statements: statements.map((s) => s.text) };
  }

  it('pages history by offset deep into a long chat reading about a page', async () => {
    const messages = app.app.get(MessageRepository);
    const { result, reads } = await measured(() => messages.page(bigChat, 50, 15_000), /FROM (messages|chats) WHERE/);
    expect(result.total).toBe(MESSAGES);
    expect(result.items.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => MESSAGES - 15_000 - i));
    for (const read of reads) expect(total(read)).toBeLessThan(200);
  });

  it("counts unread in the chat list by the read pointer, not by reading the backlog, and reaches chats from the reader's memberships", async () => {
    const chats = app.app.get(ChatRepository);
    const { result, reads } = await measured(() => chats.listForUser(reader, 50), /FROM chat_members me/);
    const big = result.find((s) => s.chat.id === bigChat);
    const deleted = Math.floor(MESSAGES / DELETED_EVERY);
    expect(big?.unreadCount).toBe(MESSAGES - deleted);
    expect(result).toHaveLength(50);
    expect(reads).toHaveLength(1);
    const [list] = reads;
    // Read: the reader's chats (not every chat), and of the backlog only its deleted messages
    // (and, per listed chat, its newest). How it finds the reader's memberships is the planner's
    // choice: on a table this small, reading it whole can be the cheaper.
    expect(list.chats ?? 0).toBeLessThanOrEqual(OTHER_CHATS + 1);
    expect(list.messages ?? 0).toBeLessThan(deleted + 200);
  });

  it('counts unread right when the reader has sent and others have deleted after the read pointer', async () => {
    const chats = app.app.get(ChatRepository);
    const [chat] = await sql.query(`SELECT id FROM chats WHERE title = 'G1'`).then((r) => r.rows as Array<{ id: string }>);
    const [other] = await sql
      .query(`SELECT user_id FROM chat_members WHERE chat_id = $1 AND user_id <> $2`, [chat.id, reader])
      .then((r) => r.rows as Array<{ user_id: string }>);
    // seq 1-6: other, reader, other (deleted), reader (deleted), other, other; the reader has read up to 1.
    const senders = [other.user_id, reader, other.user_id, reader, other.user_id, other.user_id];
    for (const [i, sender] of senders.entries()) {
      await sql.query(`INSERT INTO messages (id, chat_id, seq, sender_id, text, deleted_at) VALUES ($1, $2, $3, $4, 'x', $5)`, [
        randomUUID(),
        chat.id,
        i + 1,
        sender,
        i === 2 || i === 3 ? new Date() : null,
      ]);
    }
    await sql.query(`UPDATE chats SET last_seq = 6 WHERE id = $1`, [chat.id]);
    await sql.query(`UPDATE chat_members SET last_read_seq = 1 WHERE chat_id = $1 AND user_id = $2`, [chat.id, reader]);
    expect((await chats.summary(chat.id, reader))?.unreadCount).toBe(2);
  });

  it('tells senders their messages were seen after a long read in a large group, reading members rather than the range', async () => {
    const messages = app.app.get(MessageRepository);
    // As mark_read does: the pointer moves, then the claim for the range it moved over.
    await sql.query(`UPDATE chat_members SET last_read_seq = $3 WHERE chat_id = $1 AND user_id = $2`, [bigChat, reader, MESSAGES]);
    const { result, reads } = await measured(() => messages.claimSeenNotices(bigChat, reader, 0, MESSAGES), /WITH senders/);
    // Everyone but the reader had read everything; now the reader has too: each sender hears of their newest.
    const newest: Array<{ sender_id: string; top: string }> = (
      await sql.query(`SELECT sender_id, max(seq) AS top FROM messages WHERE chat_id = $1 GROUP BY sender_id`, [bigChat])
    ).rows;
    expect(result.map((n) => [n.senderId, n.seq]).sort()).toEqual(newest.map((r) => [r.sender_id, Number(r.top)]).sort());
    expect(reads).toHaveLength(1);
    const [claim] = reads;
    expect(total(claim)).toBeLessThan(10 * MEMBERS);
  });

  it('syncs a reconnect naming hundreds of chats with one query for those with nothing new', async () => {
    const me = await signUpAndIn(httpClient(app.url), 'Syncer');
    await sql.query(`INSERT INTO chat_members (chat_id, user_id, role) SELECT chat_id, $2, 'member' FROM chat_members WHERE user_id = $1`, [
      reader,
      me.user.id,
    ]);
    const mine: Array<{ id: string; last_seq: string }> = (
      await sql.query(`SELECT c.id, c.last_seq FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $1`, [me.user.id])
    ).rows;
    expect(mine).toHaveLength(OTHER_CHATS + 1);
    const socket = await connectReady(app.wsUrl, me.accessToken);
    try {
      // Every chat as the client last saw it (up to date), but three new in the big one.
      const asked = Object.fromEntries(mine.map((c) => [c.id, c.id === bigChat ? MESSAGES - 3 : Number(c.last_seq)]));
      const stranger = (await sql.query(`SELECT id FROM chats WHERE title = $1`, [`G${OTHER_CHATS + 1}`])).rows[0].id as string;
      const { result, statements } = await measured(() => {
        // The chat it is not in answers an error frame under the sync's id first, then `synced`.
        socket.send({ type: 'sync', id: 'catch-up', chats: { ...asked, [stranger]: 0 } });
        return socket.nextOfType('synced');
      }, /\b(chats|chat_members|messages)\b/);
      expect(result).toMatchObject({ type: 'synced', chats: { ...asked, [bigChat]: MESSAGES } });
      expect(result.chats[stranger]).toBeUndefined();
      expect(socket.seen('new_message').map((f) => f.message.seq)).toEqual([MESSAGES - 2, MESSAGES - 1, MESSAGES]);
      expect(socket.seen('error')).toEqual([expect.objectContaining({ id: 'catch-up', code: 'CHAT_NOT_FOUND', chatId: stranger })]);
      // One for all the chats, and for the big one its membership and its page of history.
      expect(statements.length).toBeLessThanOrEqual(4);
    } finally {
      await socket.close();
    }
  });

  it('sends typing in a large group after one read of its member ids', async () => {
    const typist = await signUpAndIn(httpClient(app.url), 'Typist');
    await sql.query(`INSERT INTO chat_members (chat_id, user_id, role, last_read_seq) VALUES ($1, $2, 'member', $3)`, [
      bigChat,
      typist.user.id,
      MESSAGES,
    ]);
    const socket = await connectReady(app.wsUrl, typist.accessToken);
    try {
      // Typing has no answer; frames are handled in order, so the pong after it says it is done.
      // (Coming online looks up the typist's contacts, for presence, at about the same time: not
      // typing's, so left out.)
      const { statements, reads } = await measured(async () => {
        socket.send({ type: 'typing', chatId: bigChat, isTyping: true });
        await socket.settle();
      }, /^(?![\s\S]*me\.user_id)[\s\S]*\b(chats|chat_members|messages)\b/);
      expect(socket.seen('error')).toEqual([]);
      expect(statements).toHaveLength(1);
      const [{ n }] = (await sql.query(`SELECT count(*)::int AS n FROM chat_members WHERE chat_id = $1`, [bigChat])).rows;
      expect(reads[0].chat_members).toBeLessThanOrEqual(n);
    } finally {
      await socket.close();
    }
  });

  it('lists users in name order reading about a page, whatever the number of users', async () => {
    const users = app.app.get(UserRepository);
    const { result, reads } = await measured(() => users.search('', 20), /\busers\b/);
    expect(result).toHaveLength(20);
    const first: Array<{ id: string }> = (await sql.query(`SELECT id FROM users ORDER BY lower(name), id LIMIT 20`)).rows;
    expect(result.map((r) => r.user.id)).toEqual(first.map((r) => r.id));
    for (const read of reads) expect(read.users ?? 0).toBeLessThan(200);
    // A prefix late in the order reads from where it sorts, not from the start of the alphabet.
    for (const prefix of ['User 1', 'User 4']) {
      const { result: found, reads: prefixed } = await measured(() => users.search(prefix, 20), /\busers\b/);
      expect(found.map((r) => r.user.name).filter((name) => !name.startsWith(prefix))).toEqual([]);
      expect(found).toHaveLength(20);
      for (const read of prefixed) expect(read.users ?? 0).toBeLessThan(200);
    }
    // The confirmed email's owner is found too, in name order among the rest.
    await sql.query(`UPDATE users SET email_confirmed_at = now() WHERE email = 'u4999@scale.test'`);
    const byEmail = await users.search('u4999@scale.test', 20);
    expect(byEmail.map((r) => r.user.email)).toEqual(['u4999@scale.test']);
  });
});
