import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { DatabaseEndpoint } from '../src/database/database.module.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient, type HttpResult } from './support/http.js';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually, pause } from './support/ws.js';

/**
 * A role, or membership, is checked again inside the change (a chat's or a message's), with the
 * chat locked: one seen before can be gone by then. Changes are queued behind a lock this test
 * holds on the chat row, so the order in which they reach the chat is certain.
 */
describe('chat permissions under concurrent changes (postgres)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  let owner: SignedIn, admin: SignedIn, member: SignedIn, newcomer: SignedIn;
  let blocker: pg.Client;
  /**
   * Counts the queue from outside the blocker's transaction: a backend shows pg_stat_activity as
   * it was at its first look within a transaction, so the blocker would keep seeing the queue, and
   * the connections, of that moment (the test then waited for a request already queued).
   */
  let watcher: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
    request = httpClient(app.url);
    [owner, admin, member, newcomer] = await Promise.all(['Owner', 'Admin', 'Member', 'Newcomer'].map((n) => signUpAndIn(request, n)));
    blocker = new pg.Client({ connectionString: app.app.get(DatabaseEndpoint).url });
    await blocker.connect();
    watcher = new pg.Client({ connectionString: app.app.get(DatabaseEndpoint).url });
    await watcher.connect();
  });

  afterAll(async () => {
    await blocker?.end();
    await watcher?.end();
    await app?.close();
    await db?.dispose();
  });

  const call = (who: SignedIn, method: string, path: string, body?: unknown) =>
    request(method, `/api/v1${path}`, { token: who.accessToken, ...(body === undefined ? {} : { body }) });

  /** Requests waiting for a row lock in the app's database. */
  const waiting = async (): Promise<number> => {
    const { rows } = await watcher.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0].n as number;
  };

  /** Runs the requests one after another into the queue behind a lock on the chat, then lets them through. */
  async function queuedBehindLock(chatId: string, requests: Array<() => Promise<HttpResult>>) {
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM chats WHERE id = $1 FOR UPDATE', [chatId]);
    const results: Array<Promise<HttpResult>> = [];
    try {
      for (const [i, send] of requests.entries()) {
        results.push(send());
        await eventually(async () => (await waiting()) === i + 1);
      }
    } finally {
      await blocker.query('COMMIT');
    }
    return Promise.all(results);
  }

  const group = async () => {
    const created = await call(owner, 'POST', '/chats', {
      type: 'group',
      title: `Team ${randomUUID().slice(0, 8)}`,
      memberIds: [admin.user.id, member.user.id],
    });
    expect(created.status).toBe(201);
    expect((await call(owner, 'PATCH', `/chats/${created.body.id}/members/${admin.user.id}`, { role: 'admin' })).status).toBe(200);
    return created.body as { id: string; title: string };
  };

  it('refuses what an admin asked for once the owner has removed them meanwhile, and changes nothing', async () => {
    const chat = await group();
    const [removal, adding, renaming] = await queuedBehindLock(chat.id, [
      () => call(owner, 'DELETE', `/chats/${chat.id}/members/${admin.user.id}`),
      () => call(admin, 'POST', `/chats/${chat.id}/members`, { userIds: [newcomer.user.id] }),
      () => call(admin, 'PATCH', `/chats/${chat.id}`, { title: 'Taken over' }),
    ]);
    expect(removal.status).toBe(204);
    expectErrorShape(adding, 404, 'CHAT_NOT_FOUND');
    expectErrorShape(renaming, 404, 'CHAT_NOT_FOUND');
    const { body: detail } = await call(owner, 'GET', `/chats/${chat.id}`);
    expect(detail.title).toBe(chat.title);
    expect(detail.members.map((m: { userId: string }) => m.userId).sort()).toEqual([owner.user.id, member.user.id].sort());
  });

  const message = async (who: SignedIn, chatId: string, text: string) => {
    const sent = await call(who, 'POST', `/chats/${chatId}/messages`, { text });
    expect(sent.status).toBe(201);
    return sent.body as { id: string };
  };
  const texts = async (chatId: string) =>
    (await call(owner, 'GET', `/chats/${chatId}/messages?after=0`)).body.items.map((m: { text: string | null }) => m.text);

  /**
   * Runs `request` while this test's transaction holds a change to a member uncommitted, as a
   * removal or a role change does between its write and its commit (with the chat's row locked
   * first, as the server's own changes do); once the request waits for it, commits the change.
   */
  async function duringMemberChange(chatId: string, change: string, params: unknown[], request: () => Promise<HttpResult>) {
    await blocker.query('BEGIN');
    let answer: Promise<HttpResult> | undefined;
    try {
      await blocker.query('SELECT 1 FROM chats WHERE id = $1 FOR UPDATE', [chatId]);
      await blocker.query(change, params);
      answer = request();
      await eventually(async () => (await waiting()) === 1);
    } finally {
      await blocker.query('COMMIT');
    }
    return answer;
  }
  const removing = 'DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2';

  it('refuses an edit or a delete of their own message by a member whose removal commits meanwhile, and changes nothing', async () => {
    const chat = await group();
    const theirs = await message(member, chat.id, 'as sent');
    const editing = await duringMemberChange(chat.id, removing, [chat.id, member.user.id], () =>
      call(member, 'PATCH', `/chats/${chat.id}/messages/${theirs.id}`, { text: 'rewritten after leaving' }),
    );
    expectErrorShape(editing, 404, 'CHAT_NOT_FOUND');

    const other = await group();
    const own = await message(member, other.id, 'mine');
    const deleting = await duringMemberChange(other.id, removing, [other.id, member.user.id], () =>
      call(member, 'DELETE', `/chats/${other.id}/messages/${own.id}`),
    );
    expectErrorShape(deleting, 404, 'CHAT_NOT_FOUND');
    expect([await texts(chat.id), await texts(other.id)]).toEqual([['as sent'], ['mine']]);
  });

  it('refuses a delete of another’s message by an admin whose demotion commits meanwhile', async () => {
    const chat = await group();
    const owners = await message(owner, chat.id, 'the owner’s');
    const demoting = `UPDATE chat_members SET role = 'member' WHERE chat_id = $1 AND user_id = $2`;
    const moderating = await duringMemberChange(chat.id, demoting, [chat.id, admin.user.id], () =>
      call(admin, 'DELETE', `/chats/${chat.id}/messages/${owners.id}`),
    );
    expectErrorShape(moderating, 403, 'NOT_MESSAGE_SENDER');
    expect(await texts(chat.id)).toEqual(['the owner’s']);
  });

  it('edits and deletes without waiting for the chat’s own lock, which sends hold (and so sends never wait for them)', async () => {
    const chat = await group();
    const [first, second] = [await message(member, chat.id, 'one'), await message(member, chat.id, 'two')];
    /** The request's status, or 'waited' as soon as it queues for a lock. */
    const unlessItWaits = async (request: Promise<HttpResult>): Promise<number | 'waited'> => {
      let status: number | undefined;
      void request.then((r) => (status = r.status));
      for (;;) {
        if (status !== undefined) return status;
        if ((await waiting()) > 0) return 'waited';
        await pause(10);
      }
    };
    await blocker.query('BEGIN');
    const requests: Array<Promise<HttpResult>> = [];
    try {
      await blocker.query('SELECT 1 FROM chats WHERE id = $1 FOR UPDATE', [chat.id]);
      requests.push(call(member, 'PATCH', `/chats/${chat.id}/messages/${first.id}`, { text: 'one, edited' }));
      expect(await unlessItWaits(requests[0])).toBe(200);
      requests.push(call(admin, 'DELETE', `/chats/${chat.id}/messages/${second.id}`));
      expect(await unlessItWaits(requests[1])).toBe(204);
    } finally {
      await blocker.query('COMMIT');
      await Promise.all(requests);
    }
    expect(await texts(chat.id)).toEqual(['one, edited', null]);
  });

  it('refuses the former owner what only the owner may do, once ownership has passed', async () => {
    const chat = await group();
    const [handover, deleting, promoting] = await queuedBehindLock(chat.id, [
      () => call(owner, 'PATCH', `/chats/${chat.id}/members/${admin.user.id}`, { role: 'owner' }),
      () => call(owner, 'DELETE', `/chats/${chat.id}`),
      () => call(owner, 'PATCH', `/chats/${chat.id}/members/${member.user.id}`, { role: 'admin' }),
    ]);
    expect(handover.status).toBe(200);
    expectErrorShape(deleting, 403, 'CHAT_OWNER_REQUIRED');
    expectErrorShape(promoting, 403, 'CHAT_OWNER_REQUIRED');
    const { body: detail } = await call(admin, 'GET', `/chats/${chat.id}`);
    const roles = Object.fromEntries(detail.members.map((m: { userId: string; role: string }) => [m.userId, m.role]));
    expect(roles).toEqual({ [owner.user.id]: 'admin', [admin.user.id]: 'owner', [member.user.id]: 'member' });
  });
});
