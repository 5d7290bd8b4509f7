import { randomUUID } from 'node:crypto';
import { EventBus, ofType } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';
import { MessageSeenEvent, MessageSentEvent } from '../src/modules/messages/events/message.events.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { STORE_KINDS, createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient, type HttpResult } from './support/http.js';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { connectReady, eventually, pause } from './support/ws.js';
import { IMAGES } from './support/images.js';

describe.each(STORE_KINDS)('chats and messages (%s)', (kind) => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  let alice: SignedIn, bob: SignedIn, carol: SignedIn, dave: SignedIn;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    app = await startTestApp(db.env);
    request = httpClient(app.url);
    [alice, bob, carol, dave] = await Promise.all([
      signUpAndIn(request, 'Alice'),
      signUpAndIn(request, 'Bob'),
      signUpAndIn(request, 'Carol'),
      signUpAndIn(request, 'Dave'),
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  const as = (who: SignedIn) => ({
    get: (path: string) => request('GET', `/api/v1${path}`, { token: who.accessToken }),
    post: (path: string, body?: unknown) => request('POST', `/api/v1${path}`, { token: who.accessToken, body: body ?? {} }),
    patch: (path: string, body: unknown) => request('PATCH', `/api/v1${path}`, { token: who.accessToken, body }),
    del: (path: string) => request('DELETE', `/api/v1${path}`, { token: who.accessToken }),
  });
  const group = async (owner: SignedIn, members: SignedIn[], title = `Group ${randomUUID().slice(0, 8)}`) => {
    const result = await as(owner).post('/chats', { type: 'group', title, memberIds: members.map((m) => m.user.id) });
    expect(result.status).toBe(201);
    return result.body as { id: string; title: string };
  };
  /** Each member's role, by user id, as `who` sees the chat. */
  const rolesIn = async (who: SignedIn, chatId: string): Promise<Record<string, string>> =>
    Object.fromEntries(
      (await as(who).get(`/chats/${chatId}`)).body.members.map((m: { userId: string; role: string }) => [m.userId, m.role]),
    );
  const send = (who: SignedIn, chatId: string, text: string, clientId?: string) =>
    as(who).post(`/chats/${chatId}/messages`, { text, ...(clientId ? { clientId } : {}) });

  describe('direct chats', () => {
    it('creates one chat per pair: 201 the first time, 200 with the same chat after, from either side', async () => {
      const [x, y] = await Promise.all([signUpAndIn(request, 'Xavier'), signUpAndIn(request, 'Yvonne')]);
      const first = await as(x).post('/chats', { type: 'direct', userId: y.user.id });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ type: 'direct', title: 'Yvonne', memberCount: 2, unreadCount: 0, lastMessage: null });
      expect(first.body.members.map((m: { userId: string; role: string }) => [m.userId, m.role]).sort()).toEqual(
        [
          [x.user.id, 'member'],
          [y.user.id, 'member'],
        ].sort(),
      );
      const again = await as(y).post('/chats', { type: 'direct', userId: x.user.id });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      expect(again.body.title).toBe('Xavier');
    });

    it("shows the other person's public profile (avatar, online, last seen) on a direct chat, in the list and the detail", async () => {
      const [x, y] = await Promise.all([signUpAndIn(request, 'Xena'), signUpAndIn(request, 'Yuri')]);
      const chat = (await as(x).post('/chats', { type: 'direct', userId: y.user.id })).body;
      const profile = { id: y.user.id, name: 'Yuri', avatarUrl: null, lastSeenAt: null, online: false };
      expect(chat.peer).toEqual(profile);
      const listed = (await as(x).get('/chats')).body.items.find((c: { id: string }) => c.id === chat.id);
      expect(listed.peer).toEqual(profile);
      expect((await as(x).get(`/chats/${chat.id}`)).body.peer).toEqual(profile);

      const socket = await connectReady(app.wsUrl, y.accessToken);
      try {
        expect((await as(x).get('/chats')).body.items.find((c: { id: string }) => c.id === chat.id).peer).toMatchObject({ online: true });
      } finally {
        await socket.close();
      }
      expect((await group(x, [y])) && (await as(x).get('/chats')).body.items.filter((c: { type: string }) => c.type === 'group')).toEqual([
        expect.objectContaining({ peer: null }),
      ]);
    });

    it('creates exactly one chat when both people start it at the same moment', async () => {
      const [x, y] = await Promise.all([signUpAndIn(request), signUpAndIn(request)]);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          i % 2 ? as(x).post('/chats', { type: 'direct', userId: y.user.id }) : as(y).post('/chats', { type: 'direct', userId: x.user.id }),
        ),
      );
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    });

    it('refuses a chat with yourself, with an unknown user, or with group fields', async () => {
      expectErrorShape(await as(alice).post('/chats', { type: 'direct', userId: alice.user.id }), 400, 'DIRECT_CHAT_WITH_SELF');
      expectErrorShape(await as(alice).post('/chats', { type: 'direct', userId: randomUUID() }), 404, 'USER_NOT_FOUND');
      expectErrorShape(await as(alice).post('/chats', { type: 'direct', userId: bob.user.id, title: 'x' }), 400, 'VALIDATION_FAILED');
      // Each field the other type takes is named, not only the first.
      const both = await as(alice).post('/chats', { type: 'direct', userId: bob.user.id, title: 'x', memberIds: [] });
      expectErrorShape(both, 400, 'VALIDATION_FAILED');
      expect(both.body).toMatchObject({
        message: 'title and memberIds do not apply to a direct chat.',
        details: [
          { field: 'title', message: 'title does not apply to a direct chat' },
          { field: 'memberIds', message: 'memberIds does not apply to a direct chat' },
        ],
      });
      expectErrorShape(await as(alice).post('/chats', { type: 'direct' }), 400, 'VALIDATION_FAILED');
      expectErrorShape(await as(alice).post('/chats', { type: 'channel' }), 400, 'VALIDATION_FAILED');
    });

    it('takes ids in upper case as the same users and chats', async () => {
      const up = (id: string) => id.toUpperCase();
      expectErrorShape(await as(alice).post('/chats', { type: 'direct', userId: up(alice.user.id) }), 400, 'DIRECT_CHAT_WITH_SELF');
      const first = await as(alice).post('/chats', { type: 'direct', userId: up(carol.user.id) });
      const second = await as(alice).post('/chats', { type: 'direct', userId: carol.user.id });
      expect([first.body.id, second.status]).toEqual([second.body.id, 200]);

      const chat = await group(alice, []);
      expect((await as(alice).post(`/chats/${up(chat.id)}/members`, { userIds: [up(bob.user.id), bob.user.id] })).status).toBe(201);
      expect(await rolesIn(alice, up(chat.id))).toEqual({ [alice.user.id]: 'owner', [bob.user.id]: 'member' });
      const clientId = randomUUID();
      const sent = await send(bob, up(chat.id), 'hi', up(clientId));
      expect(sent.body).toMatchObject({ chatId: chat.id, clientId });
      const resent = await send(bob, chat.id, 'hi', clientId);
      expect([resent.status, resent.body.id]).toEqual([200, sent.body.id]);
      expect((await as(bob).del(`/chats/${up(chat.id)}/members/${up(bob.user.id)}`)).status).toBe(204);
      expect(await rolesIn(alice, chat.id)).toEqual({ [alice.user.id]: 'owner' });
    });

    it('has fixed membership: member changes, renames and deletion answer 409 DIRECT_CHAT_FIXED', async () => {
      const { body: chat } = await as(alice).post('/chats', { type: 'direct', userId: bob.user.id });
      expectErrorShape(await as(alice).post(`/chats/${chat.id}/members`, { userIds: [carol.user.id] }), 409, 'DIRECT_CHAT_FIXED');
      expectErrorShape(await as(alice).del(`/chats/${chat.id}/members/${bob.user.id}`), 409, 'DIRECT_CHAT_FIXED');
      expectErrorShape(await as(alice).patch(`/chats/${chat.id}/members/${bob.user.id}`, { role: 'admin' }), 409, 'DIRECT_CHAT_FIXED');
      expectErrorShape(await as(alice).patch(`/chats/${chat.id}`, { title: 'Renamed' }), 409, 'DIRECT_CHAT_FIXED');
      expectErrorShape(await as(alice).del(`/chats/${chat.id}`), 409, 'DIRECT_CHAT_FIXED');
      expect((await as(bob).get(`/chats/${chat.id}`)).body.memberCount).toBe(2);
    });
  });

  describe('groups', () => {
    it('makes the creator owner and the others members', async () => {
      const chat = await group(alice, [bob, carol], '  Team   Rocket ');
      expect(chat.title).toBe('Team Rocket');
      const detail = await as(bob).get(`/chats/${chat.id}`);
      expect(detail.body.members).toEqual([
        { userId: alice.user.id, name: 'Alice', avatarUrl: null, online: false, role: 'owner', lastReadSeq: 0, joinedSeq: 0 },
        expect.objectContaining({ role: 'member' }),
        expect.objectContaining({ role: 'member' }),
      ]);
    });

    it.each([
      ['a blank title', { title: '   ', memberIds: [] }],
      ['a title of invisible characters only', { title: '\u200b\u2060', memberIds: [] }],
      // Letters and marks that draw as nothing: Hangul fillers, the grapheme joiner, blank Braille.
      ['a title of blank letters only', { title: '\u3164\u115f \u034f\u2800', memberIds: [] }],
      // Accents with no letter, noncharacters, the stand-in for a missing image.
      ['a title of marks and non-text only', { title: '\u0301\u0301 \uffff\ufdd0 \ufffc', memberIds: [] }],
      ['a title over 255 characters', { title: 'x'.repeat(256), memberIds: [] }],
      ['a member id that is not a UUID', { title: 'T', memberIds: ['nope'] }],
      ['a missing title', { memberIds: [] }],
      ['a userId on a group', { title: 'T', memberIds: [], userId: randomUUID() }],
    ])('refuses %s with 400', async (_label, body) => {
      expectErrorShape(await as(alice).post('/chats', { type: 'group', ...body }), 400, 'VALIDATION_FAILED');
    });

    it("shows each member's avatar and whether they are online in the member list, as their profile has them", async () => {
      const pia = await signUpAndIn(request, 'Pia');
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(IMAGES.png)], { type: 'image/png' }), 'me.png');
      const uploaded = await request('PUT', '/api/v1/users/me/avatar', { raw: form, token: pia.accessToken });
      expect(uploaded.status).toBe(200);
      const chat = await group(alice, [pia]);
      type Member = { userId: string; avatarUrl: string | null; online: boolean };
      const members = async () => (await as(alice).get(`/chats/${chat.id}`)).body.members as Member[];
      const socket = await connectReady(app.wsUrl, pia.accessToken);
      try {
        expect(Object.fromEntries((await members()).map((m) => [m.userId, [m.avatarUrl, m.online]]))).toEqual({
          [alice.user.id]: [null, false],
          [pia.user.id]: [uploaded.body.avatarUrl, true],
        });
      } finally {
        await socket.close();
      }
    });

    it('creates a group of one when memberIds is left out', async () => {
      const created = await as(alice).post('/chats', { type: 'group', title: `Solo ${randomUUID().slice(0, 8)}` });
      expect(created.status).toBe(201);
      expect((await as(alice).get(`/chats/${created.body.id}`)).body.members).toEqual([
        expect.objectContaining({ userId: alice.user.id, role: 'owner' }),
      ]);
    });

    it('refuses unknown members with 404 and creates nothing', async () => {
      const before = (await as(alice).get('/chats?limit=100')).body.items.length;
      expectErrorShape(
        await as(alice).post('/chats', { type: 'group', title: 'Ghosts', memberIds: [randomUUID()] }),
        404,
        'USER_NOT_FOUND',
      );
      expect((await as(alice).get('/chats?limit=100')).body.items.length).toBe(before);
    });

    it('keeps titles unique among the groups one user owns, ignoring case', async () => {
      const title = `Book Club ${randomUUID().slice(0, 6)}`;
      await group(alice, [], title);
      const shouted = await as(alice).post('/chats', { type: 'group', title: title.toUpperCase(), memberIds: [] });
      expectErrorShape(shouted, 409, 'CHAT_TITLE_TAKEN');
      expect(shouted.body.message).toMatch(/ignoring case/);
      expect((await as(bob).post('/chats', { type: 'group', title, memberIds: [] })).status).toBe(201);
      const other = await group(alice, []);
      expectErrorShape(await as(alice).patch(`/chats/${other.id}`, { title }), 409, 'CHAT_TITLE_TAKEN');
    });

    it('lets owner and admins rename and add members, not plain members', async () => {
      const chat = await group(alice, [bob, carol]);
      expectErrorShape(await as(bob).patch(`/chats/${chat.id}`, { title: 'Bob was here' }), 403, 'CHAT_ADMIN_REQUIRED');
      expectErrorShape(await as(bob).post(`/chats/${chat.id}/members`, { userIds: [dave.user.id] }), 403, 'CHAT_ADMIN_REQUIRED');
      expectErrorShape(await as(bob).patch(`/chats/${chat.id}/members/${carol.user.id}`, { role: 'admin' }), 403, 'CHAT_OWNER_REQUIRED');
      expect((await as(alice).patch(`/chats/${chat.id}/members/${bob.user.id}`, { role: 'admin' })).status).toBe(200);
      const renamed = await as(bob).patch(`/chats/${chat.id}`, { title: 'Renamed by admin' });
      expect(renamed.body.title).toBe('Renamed by admin');
      const added = await as(bob).post(`/chats/${chat.id}/members`, { userIds: [dave.user.id, dave.user.id] });
      expect(added.status).toBe(201);
      expect(added.body.memberCount).toBe(4);
      // Everyone named a member already: 200, nothing changed.
      const again = await as(bob).post(`/chats/${chat.id}/members`, { userIds: [dave.user.id, carol.user.id] });
      expect(again.status).toBe(200);
      expect(again.body.memberCount).toBe(4);
      // Removing: a plain member nobody, an admin plain members, the owner admins too; the owner no one.
      expectErrorShape(await as(carol).del(`/chats/${chat.id}/members/${dave.user.id}`), 403, 'CHAT_ADMIN_REQUIRED');
      expectErrorShape(await as(bob).del(`/chats/${chat.id}/members/${alice.user.id}`), 403, 'CHAT_OWNER_REQUIRED');
      expect((await as(alice).patch(`/chats/${chat.id}/members/${carol.user.id}`, { role: 'admin' })).status).toBe(200);
      expectErrorShape(await as(bob).del(`/chats/${chat.id}/members/${carol.user.id}`), 403, 'CHAT_OWNER_REQUIRED');
      expect((await as(alice).patch(`/chats/${chat.id}/members/${carol.user.id}`, { role: 'member' })).status).toBe(200);
      expect((await as(bob).del(`/chats/${chat.id}/members/${dave.user.id}`)).status).toBe(204);
      expectErrorShape(await as(dave).get(`/chats/${chat.id}`), 404, 'CHAT_NOT_FOUND');
      expectErrorShape(await as(bob).del(`/chats/${chat.id}`), 403, 'CHAT_OWNER_REQUIRED');
    });

    it('lets a member leave, and an owner who leaves hands the group to an admin', async () => {
      const chat = await group(alice, [bob, carol]);
      await as(alice).patch(`/chats/${chat.id}/members/${carol.user.id}`, { role: 'admin' });
      expect((await as(bob).del(`/chats/${chat.id}/members/${bob.user.id}`)).status).toBe(204);
      expect((await as(alice).del(`/chats/${chat.id}/members/${alice.user.id}`)).status).toBe(204);
      const detail = await as(carol).get(`/chats/${chat.id}`);
      expect(detail.body.members).toEqual([expect.objectContaining({ userId: carol.user.id, role: 'owner' })]);
    });

    it('passes over a successor who already owns a group with that title when the owner leaves', async () => {
      const title = `Poets ${randomUUID().slice(0, 8)}`;
      const chat = await group(alice, [bob, carol], title);
      await as(alice).patch(`/chats/${chat.id}/members/${bob.user.id}`, { role: 'admin' });
      await group(bob, [], title.toLowerCase());
      expect((await as(alice).del(`/chats/${chat.id}/members/${alice.user.id}`)).status).toBe(204);
      expect(await rolesIn(carol, chat.id)).toEqual({ [bob.user.id]: 'admin', [carol.user.id]: 'owner' });
    });

    it('keeps an owner in when everyone who could take over owns a group with that title', async () => {
      const title = `Painters ${randomUUID().slice(0, 8)}`;
      const chat = await group(alice, [bob], title);
      await group(bob, [], title);
      const refused = await as(alice).del(`/chats/${chat.id}/members/${alice.user.id}`);
      expectErrorShape(refused, 409, 'CHAT_TITLE_TAKEN');
      expect(refused.body.message).toMatch(/rename the group, then leave/);
      expect(await rolesIn(alice, chat.id)).toEqual({ [alice.user.id]: 'owner', [bob.user.id]: 'member' });
      await as(alice).patch(`/chats/${chat.id}`, { title: `${title} II` });
      expect((await as(alice).del(`/chats/${chat.id}/members/${alice.user.id}`)).status).toBe(204);
      expect((await as(bob).get(`/chats/${chat.id}`)).body.members).toEqual([
        expect.objectContaining({ userId: bob.user.id, role: 'owner' }),
      ]);
    });

    it('deletes a group, or leaves it an owner, when its members leave at the same moment', async () => {
      for (let round = 0; round < 4; round++) {
        const pair = await group(alice, [bob]);
        const trio = await group(alice, [bob, carol]);
        await as(alice).patch(`/chats/${trio.id}/members/${bob.user.id}`, { role: 'admin' });
        const results = await Promise.all([
          as(alice).del(`/chats/${pair.id}/members/${alice.user.id}`),
          as(bob).del(`/chats/${pair.id}/members/${bob.user.id}`),
          as(alice).del(`/chats/${trio.id}/members/${alice.user.id}`),
          as(bob).del(`/chats/${trio.id}/members/${bob.user.id}`),
        ]);
        expect(results.map((r) => r.status)).toEqual([204, 204, 204, 204]);
        // The last one out deleted the pair's group: no member-less group keeps its title taken.
        expect((await as(bob).post('/chats', { type: 'group', title: pair.title, memberIds: [] })).status).toBe(201);
        expect((await as(alice).post('/chats', { type: 'group', title: pair.title, memberIds: [] })).status).toBe(201);
        // The owner and the heir left together: the one who stayed owns the trio's group.
        expect(await rolesIn(carol, trio.id)).toEqual({ [carol.user.id]: 'owner' });
      }
    });

    it('hands ownership over when the owner gives the owner role', async () => {
      const chat = await group(alice, [bob]);
      expectErrorShape(await as(alice).patch(`/chats/${chat.id}/members/${alice.user.id}`, { role: 'member' }), 409, 'OWNER_MUST_TRANSFER');
      await as(alice).patch(`/chats/${chat.id}/members/${bob.user.id}`, { role: 'owner' });
      expect(await rolesIn(bob, chat.id)).toEqual({ [alice.user.id]: 'admin', [bob.user.id]: 'owner' });
      const title = `Sculptors ${randomUUID().slice(0, 8)}`;
      const second = await group(bob, [carol], title);
      await group(carol, [], title);
      const refused = await as(bob).patch(`/chats/${second.id}/members/${carol.user.id}`, { role: 'owner' });
      expectErrorShape(refused, 409, 'CHAT_TITLE_TAKEN');
      expect(refused.body.message).toMatch(/new owner already owns/);
    });

    it('deletes a group with its messages (owner only)', async () => {
      const chat = await group(alice, [bob]);
      await send(bob, chat.id, 'soon gone');
      expect((await as(alice).del(`/chats/${chat.id}`)).status).toBe(204);
      expectErrorShape(await as(bob).get(`/chats/${chat.id}/messages`), 404, 'CHAT_NOT_FOUND');
      expectErrorShape(await as(alice).get(`/chats/${chat.id}`), 404, 'CHAT_NOT_FOUND');
      // Gone from storage, not only out of reach.
      const stored = await app.app.get(MessageRepository).page(chat.id, 100, 0);
      expect(stored).toEqual({ items: [], total: 0 });
    });

    it('answers 404 for a message addressed through another chat, even one the caller is in', async () => {
      const [mine, other] = [await group(alice, [bob]), await group(alice, [bob])];
      const { body: message } = await send(alice, mine.id, 'here');
      const wrong = `/chats/${other.id}/messages/${message.id}`;
      expectErrorShape(await as(alice).patch(wrong, { text: 'moved?' }), 404, 'MESSAGE_NOT_FOUND');
      expectErrorShape(await as(alice).del(wrong), 404, 'MESSAGE_NOT_FOUND');
      expectErrorShape(await as(alice).get(`${wrong}/reads`), 404, 'MESSAGE_NOT_FOUND');
      const { body: history } = await as(alice).get(`/chats/${mine.id}/messages`);
      expect(history.items).toEqual([expect.objectContaining({ id: message.id, text: 'here', editedAt: null, deletedAt: null })]);
    });

    it('shows other users only their public profile: no email in profiles or search', async () => {
      const profile = await as(alice).get(`/users/${bob.user.id}`);
      expect(Object.keys(profile.body).sort()).toEqual(['avatarUrl', 'id', 'lastSeenAt', 'name', 'online']);
      const { body: found } = await as(alice).get(`/users?query=${encodeURIComponent(bob.user.name)}`);
      expect(found.items).toHaveLength(1);
      expect(Object.keys(found.items[0]).sort()).toEqual(['avatarUrl', 'id', 'lastSeenAt', 'name', 'online']);
    });

    it('uses 50 as the default page size of the history', async () => {
      const chat = await group(alice, [bob]);
      for (let i = 1; i <= 55; i++) await send(alice, chat.id, `m${i}`);
      const { body: page } = await as(alice).get(`/chats/${chat.id}/messages`);
      expect(page.items).toHaveLength(50);
      expect(page.items[0].seq).toBe(55);
      expect(page.nextCursor).toBe('6');
    });

    it('answers 404 to non-members for everything about a chat, and changes nothing', async () => {
      const chat = await group(alice, [bob]);
      const { body: message } = await send(alice, chat.id, 'private');
      const stranger = as(dave);
      for (const result of [
        await stranger.get(`/chats/${chat.id}`),
        await stranger.patch(`/chats/${chat.id}`, { title: 'Mine now' }),
        await stranger.del(`/chats/${chat.id}`),
        await stranger.post(`/chats/${chat.id}/members`, { userIds: [dave.user.id] }),
        await stranger.del(`/chats/${chat.id}/members/${bob.user.id}`),
        await stranger.get(`/chats/${chat.id}/messages`),
        await send(dave, chat.id, 'let me in'),
        await stranger.patch(`/chats/${chat.id}/messages/${message.id}`, { text: 'edited' }),
        await stranger.del(`/chats/${chat.id}/messages/${message.id}`),
        await stranger.get(`/chats/${chat.id}/messages/${message.id}/reads`),
        await stranger.post(`/chats/${chat.id}/read`, { seq: 1 }),
      ]) {
        expectErrorShape(result, 404, 'CHAT_NOT_FOUND');
      }
      expectErrorShape(await stranger.get(`/chats/${randomUUID()}`), 404, 'CHAT_NOT_FOUND');
      const detail = await as(alice).get(`/chats/${chat.id}`);
      expect(detail.body.memberCount).toBe(2);
      expect(detail.body.lastSeq).toBe(1);
    });
  });

  describe('messages', () => {
    it('numbers messages 1, 2, 3 … and stores text as sent', async () => {
      const chat = await group(alice, [bob]);
      const first = await send(alice, chat.id, 'hello');
      expect(first.status).toBe(201);
      expect(first.body).toEqual({
        id: expect.any(String),
        chatId: chat.id,
        seq: 1,
        senderId: alice.user.id,
        clientId: null,
        text: 'hello',
        createdAt: expect.any(String),
        editedAt: null,
        deletedAt: null,
      });
      expect((await send(bob, chat.id, '  hi  ')).body).toMatchObject({ seq: 2, text: '  hi  ' });
    });

    it.each([
      ['empty text', { text: '' }],
      ['white space only', { text: ' \n\t ' }],
      ['zero-width characters only', { text: '\u200b \ufeff\u200d' }],
      ['blank letters only', { text: '\u2800\u3164\uffa0\ufe0f' }],
      ['combining marks and noncharacters only', { text: '\u0301\u20dd\uffff\u{10ffff}\ufffc' }],
      ['text over 4096 characters', { text: 'x'.repeat(4097) }],
      ['a clientId that is not a UUID', { text: 'hi', clientId: '123' }],
      ['an unknown field', { text: 'hi', pinned: true }],
    ])('refuses %s with 400 and stores nothing', async (_label, body) => {
      const chat = await group(alice, [bob]);
      expectErrorShape(await as(alice).post(`/chats/${chat.id}/messages`, body), 400, 'VALIDATION_FAILED');
      expect((await as(alice).get(`/chats/${chat.id}/messages?offset=0`)).body.total).toBe(0);
    });

    it('gives 100+ concurrent senders the seqs 1..n with no gaps or duplicates', async () => {
      const chat = await group(alice, [bob, carol]);
      const senders = [alice, bob, carol];
      const results = await Promise.all(Array.from({ length: 120 }, (_, i) => send(senders[i % 3], chat.id, `message ${i}`)));
      expect(results.every((r) => r.status === 201)).toBe(true);
      expect(results.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      const stored = await as(alice).get(`/chats/${chat.id}/messages?offset=0&limit=100`);
      expect(stored.body.total).toBe(120);
    });

    it('returns the original message with 200 when a clientId repeats, even concurrently, and broadcasts once', async () => {
      const chat = await group(alice, [bob]);
      const clientId = randomUUID();
      const sent: MessageSentEvent[] = [];
      const subscription = app.app
        .get(EventBus)
        .pipe(ofType(MessageSentEvent))
        .subscribe((e) => e.message.chatId === chat.id && sent.push(e));
      try {
        const results = await Promise.all(Array.from({ length: 10 }, () => send(alice, chat.id, 'once', clientId)));
        expect(results.filter((r) => r.status === 201)).toHaveLength(1);
        expect(results.filter((r) => r.status === 200)).toHaveLength(9);
        expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
        const retry = await send(alice, chat.id, 'once', clientId);
        expect(retry.status).toBe(200);
        expect(retry.body).toEqual(results[0].body);
        expect((await send(alice, chat.id, 'next')).body.seq).toBe(2);
        expect(sent.map((e) => e.message.seq)).toEqual([1, 2]);
      } finally {
        subscription.unsubscribe();
      }
      const other = await group(alice, [bob]);
      expectErrorShape(await send(alice, other.id, 'elsewhere', clientId), 409, 'CLIENT_ID_REUSED');
      expect((await send(bob, chat.id, 'same id, other sender', clientId)).status).toBe(201);
    });

    it('pages history back with before, forward with after, and by offset with total', async () => {
      const chat = await group(alice, [bob]);
      for (let i = 1; i <= 7; i++) await send(i % 2 ? alice : bob, chat.id, `m${i}`);
      const newest = await as(bob).get(`/chats/${chat.id}/messages?limit=3`);
      expect(newest.body.items.map((m: { seq: number }) => m.seq)).toEqual([7, 6, 5]);
      expect(newest.body.nextCursor).toBe('5');
      const back = await as(bob).get(`/chats/${chat.id}/messages?limit=3&before=5`);
      expect(back.body.items.map((m: { seq: number }) => m.seq)).toEqual([4, 3, 2]);
      const last = await as(bob).get(`/chats/${chat.id}/messages?limit=3&before=2`);
      expect(last.body).toEqual({ items: [expect.objectContaining({ seq: 1 })], nextCursor: null });
      const after = await as(bob).get(`/chats/${chat.id}/messages?after=4`);
      expect(after.body.items.map((m: { seq: number }) => m.seq)).toEqual([5, 6, 7]);
      expect(after.body.nextCursor).toBeNull();
      // A page that ends exactly at the first message is the last: no cursor to an empty page.
      const exact = await as(bob).get(`/chats/${chat.id}/messages?limit=3&before=4`);
      expect(exact.body).toEqual({ items: [3, 2, 1].map((seq) => expect.objectContaining({ seq })), nextCursor: null });
      expect((await as(bob).get(`/chats/${chat.id}/messages?limit=3&after=4`)).body.nextCursor).toBeNull();
      const offset = await as(bob).get(`/chats/${chat.id}/messages?limit=2&offset=2`);
      expect(offset.body.items.map((m: { seq: number }) => m.seq)).toEqual([5, 4]);
      expect(offset.body).toMatchObject({ total: 7, nextCursor: '4' });
      const lastByOffset = await as(bob).get(`/chats/${chat.id}/messages?limit=2&offset=5`);
      expect(lastByOffset.body).toMatchObject({ items: [{ seq: 2 }, { seq: 1 }], total: 7, nextCursor: null });
      // An empty parameter is no parameter (a client writing limit=${x ?? ''}).
      const blank = await as(bob).get(`/chats/${chat.id}/messages?limit=&before=`);
      expect(blank.body.items.map((m: { seq: number }) => m.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
      for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'before=0', 'after=-1', 'before=3&after=1', 'offset=1&before=3', 'page=2']) {
        expectErrorShape(await as(bob).get(`/chats/${chat.id}/messages?${bad}`), 400, 'VALIDATION_FAILED');
      }
    });

    it('lets the sender edit, and the sender or a group admin delete, leaving a tombstone in place', async () => {
      const chat = await group(alice, [bob, carol]);
      const { body: message } = await send(bob, chat.id, 'tyop');
      await send(carol, chat.id, 'after');
      expectErrorShape(await as(carol).patch(`/chats/${chat.id}/messages/${message.id}`, { text: 'hijack' }), 403, 'NOT_MESSAGE_SENDER');
      expectErrorShape(await as(bob).patch(`/chats/${chat.id}/messages/${message.id}`, { text: '  ' }), 400, 'VALIDATION_FAILED');
      const edited = await as(bob).patch(`/chats/${chat.id}/messages/${message.id}`, { text: 'typo' });
      expect(edited.body).toMatchObject({ id: message.id, seq: 1, text: 'typo', editedAt: expect.any(String) });
      expectErrorShape(await as(carol).del(`/chats/${chat.id}/messages/${message.id}`), 403, 'NOT_MESSAGE_SENDER');
      expect((await as(alice).del(`/chats/${chat.id}/messages/${message.id}`)).status).toBe(204);
      expect((await as(alice).del(`/chats/${chat.id}/messages/${message.id}`)).status).toBe(204);
      const history = await as(carol).get(`/chats/${chat.id}/messages`);
      expect(
        history.body.items.map((m: { seq: number; text: string | null; deletedAt: string | null }) => [
          m.seq,
          m.text,
          m.deletedAt !== null,
        ]),
      ).toEqual([
        [2, 'after', false],
        [1, null, true],
      ]);
      expectErrorShape(await as(bob).patch(`/chats/${chat.id}/messages/${message.id}`, { text: 'back' }), 409, 'MESSAGE_DELETED');
      expectErrorShape(await as(bob).patch(`/chats/${chat.id}/messages/${randomUUID()}`, { text: 'x' }), 404, 'MESSAGE_NOT_FOUND');
    });

    it('stops a removed member from sending or reading', async () => {
      const chat = await group(alice, [bob]);
      await as(alice).del(`/chats/${chat.id}/members/${bob.user.id}`);
      expectErrorShape(await send(bob, chat.id, 'still here?'), 404, 'CHAT_NOT_FOUND');
      expectErrorShape(await as(bob).get(`/chats/${chat.id}/messages`), 404, 'CHAT_NOT_FOUND');
    });
  });

  describe('read state', () => {
    it('counts unread messages from others, moves the pointer forward only, and lists readers', async () => {
      const chat = await group(alice, [bob, carol]);
      for (let i = 0; i < 3; i++) await send(alice, chat.id, `a${i}`);
      const { body: fromBob } = await send(bob, chat.id, 'b');
      const summary = async (who: SignedIn) =>
        (await as(who).get('/chats?limit=100')).body.items.find((c: { id: string }) => c.id === chat.id);
      expect((await summary(carol)).unreadCount).toBe(4);
      expect((await summary(bob)).unreadCount).toBe(0); // sending moved Bob's pointer to 4
      expect((await summary(alice)).unreadCount).toBe(1);

      expect((await as(carol).post(`/chats/${chat.id}/read`, { seq: 2 })).status).toBe(204);
      expect((await summary(carol)).unreadCount).toBe(2);
      expect((await as(carol).post(`/chats/${chat.id}/read`, { seq: 1 })).status).toBe(204);
      expect((await summary(carol)).unreadCount).toBe(2);
      expectErrorShape(await as(carol).post(`/chats/${chat.id}/read`, { seq: 99 }), 400, 'INVALID_SEQ');
      expectErrorShape(await as(carol).post(`/chats/${chat.id}/read`, { seq: 'two' }), 400, 'VALIDATION_FAILED');

      const members = (await as(alice).get(`/chats/${chat.id}`)).body.members;
      expect(Object.fromEntries(members.map((m: { userId: string; lastReadSeq: number }) => [m.userId, m.lastReadSeq]))).toEqual({
        [alice.user.id]: 3,
        [bob.user.id]: 4,
        [carol.user.id]: 2,
      });
      const reads = await as(alice).get(`/chats/${chat.id}/messages/${fromBob.id}/reads`);
      expect(reads.body).toEqual([]);
      await as(carol).post(`/chats/${chat.id}/read`, { seq: 4 });
      expect(
        (await as(alice).get(`/chats/${chat.id}/messages/${fromBob.id}/reads`)).body.map((r: { userId: string }) => r.userId).sort(),
      ).toEqual([carol.user.id]);
      await as(alice).post(`/chats/${chat.id}/read`, { seq: 4 });
      const readers = (await as(bob).get(`/chats/${chat.id}/messages/${fromBob.id}/reads`)).body;
      expect(readers).toEqual(
        expect.arrayContaining([
          { userId: alice.user.id, readAt: expect.any(String) },
          { userId: carol.user.id, readAt: expect.any(String) },
        ]),
      );
      expect(readers).toHaveLength(2);

      // A deleted message is nothing left to read: Carol (read up to 4) has two, then one.
      for (const text of ['soon gone', 'stays']) await send(alice, chat.id, text);
      expect((await summary(carol)).unreadCount).toBe(2);
      const gone = (await as(carol).get(`/chats/${chat.id}/messages?after=4`)).body.items[0];
      expect((await as(alice).del(`/chats/${chat.id}/messages/${gone.id}`)).status).toBe(204);
      expect((await summary(carol)).unreadCount).toBe(1);
    });

    it('tells a sender once when every other member has read up to their message', async () => {
      const chat = await group(alice, [bob, carol]);
      await send(alice, chat.id, 'one');
      await send(alice, chat.id, 'two');
      const seen: MessageSeenEvent[] = [];
      const subscription = app.app
        .get(EventBus)
        .pipe(ofType(MessageSeenEvent))
        .subscribe((e) => e.chatId === chat.id && seen.push(e));
      try {
        await as(bob).post(`/chats/${chat.id}/read`, { seq: 2 });
        expect(seen).toEqual([]);
        await Promise.all([as(carol).post(`/chats/${chat.id}/read`, { seq: 1 }), as(carol).post(`/chats/${chat.id}/read`, { seq: 2 })]);
        await as(carol).post(`/chats/${chat.id}/read`, { seq: 2 });
        expect(seen.map((e) => [e.senderId, e.seq])).toEqual(
          seen.length === 1
            ? [[alice.user.id, 2]]
            : [
                [alice.user.id, 1],
                [alice.user.id, 2],
              ],
        );
      } finally {
        subscription.unsubscribe();
      }
    });
  });

  describe('under concurrent changes and odd input', () => {
    it('never answers 500 while roles change and the group is deleted under a stream of sends', async () => {
      const chat = await group(alice, [bob, carol]);
      const sends = Array.from({ length: 40 }, (_, i) => send([bob, carol][i % 2], chat.id, `s${i}`));
      const churn = (async () => {
        for (const role of ['admin', 'member', 'admin'] as const)
          await as(alice).patch(`/chats/${chat.id}/members/${bob.user.id}`, { role });
        await as(alice).del(`/chats/${chat.id}/members/${carol.user.id}`);
        return as(alice).del(`/chats/${chat.id}`);
      })();
      const results = await Promise.all(sends);
      expect((await churn).status).toBe(204);
      expect(results.filter((r) => ![201, 404].includes(r.status)).map((r) => [r.status, r.body])).toEqual([]);
    });

    it('refuses U+0000 in any field with 400 naming it, and control characters alone as blank, storing nothing', async () => {
      const chat = await group(alice, [bob]);
      const { body: sent } = await send(alice, chat.id, 'kept');
      const refusals: Array<[Promise<HttpResult>, string]> = [
        [send(alice, chat.id, 'a\u0000b'), 'text'],
        [as(alice).patch(`/chats/${chat.id}/messages/${sent.id}`, { text: 'x\u0000' }), 'text'],
        [as(alice).patch(`/chats/${chat.id}`, { title: 'T\u0000' }), 'title'],
        [as(alice).post('/chats', { type: 'group', title: 'T\u0000', memberIds: [] }), 'title'],
        [as(alice).patch('/users/me', { name: 'A\u0000' }), 'name'],
        [as(alice).get(`/users?query=${encodeURIComponent('a\u0000')}`), 'query'],
        [request('POST', '/api/v1/auth/sign-in', { body: { email: 'a\u0000@example.com', password: 'whatever1' } }), 'email'],
        [
          request('POST', '/api/v1/auth/sign-up', {
            body: { email: `n${randomUUID().slice(0, 6)}@example.com`, password: 'secret123', name: 'N\u0000' },
          }),
          'name',
        ],
      ];
      for (const [pending, field] of refusals) {
        const result = await pending;
        expectErrorShape(result, 400, 'VALIDATION_FAILED');
        expect(result.body.details).toEqual([{ field, message: `${field} must not contain the NUL character (U+0000)` }]);
      }
      const forged = Buffer.from(JSON.stringify({ name: 'a\u0000', id: randomUUID() })).toString('base64url');
      expectErrorShape(await as(alice).get(`/users?query=a&cursor=${forged}`), 400, 'INVALID_CURSOR');
      const cursorOf = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      for (const shaped of [
        { name: 'a'.repeat(5000), id: randomUUID() },
        { name: 'a', id: randomUUID(), extra: 1 },
      ])
        expectErrorShape(await as(alice).get(`/users?query=a&cursor=${cursorOf(shaped)}`), 400, 'INVALID_CURSOR');
      const chatCursor = { activityAt: new Date().toISOString(), id: randomUUID(), more: true };
      expectErrorShape(await as(alice).get(`/chats?cursor=${cursorOf(chatCursor)}`), 400, 'INVALID_CURSOR');
      for (const blank of ['\u0007\u0008', '\u202e\u200e', '\u00ad', '\u2800', '\u3164', '\u115f\u1160', '\u034f'])
        expectErrorShape(await as(alice).patch('/users/me', { name: blank }), 400, 'VALIDATION_FAILED');
      expectErrorShape(await send(alice, chat.id, '\u0007'), 400, 'VALIDATION_FAILED');

      const { body: history } = await as(alice).get(`/chats/${chat.id}/messages`);
      expect(history.items.map((m: { text: string }) => m.text)).toEqual(['kept']);
      expect((await as(alice).get('/users/me')).body.name).toBe(alice.user.name);
    });

    it('sums up one field failing several rules as that field, not as several fields', async () => {
      const chat = await group(alice, [bob]);
      const result = await as(alice).post(`/chats/${chat.id}/read`, { seq: null });
      expectErrorShape(result, 400, 'VALIDATION_FAILED');
      expect(result.body.message).not.toMatch(/fields are invalid/);
      expect(new Set(result.body.details.map((d: { field: string }) => d.field))).toEqual(new Set(['seq']));
      // A value of the wrong type is told that alone, not also every range or length it misses.
      for (const [got, field] of [
        [await as(alice).get('/chats?limit=abc'), 'limit'],
        [await as(alice).patch('/users/me', { name: 5 }), 'name'],
        [await as(alice).post(`/chats/${chat.id}/read`, { seq: '2' }), 'seq'],
      ] as const) {
        expectErrorShape(got, 400, 'VALIDATION_FAILED');
        expect({ count: got.body.details.length, field: got.body.details[0].field }).toEqual({ count: 1, field });
        expect(got.body.message).toMatch(/must be an? (integer|string)/);
      }
      // A blank one is told it is blank, not also that it is too short (it was three spaces).
      for (const [got, field, message] of [
        [await as(alice).patch('/users/me', { name: '   ' }), 'name', 'name must not be blank'],
        [await as(alice).patch(`/chats/${chat.id}`, { title: '' }), 'title', 'title must not be blank'],
        [await send(alice, chat.id, ''), 'text', 'text must not be empty or only white space'],
      ] as const) {
        expectErrorShape(got, 400, 'VALIDATION_FAILED');
        expect(got.body.details).toEqual([{ field, message }]);
      }
    });

    it('keeps a member added later off the readers of what was sent before they came, though their history is not unread', async () => {
      const chat = await group(alice, [bob]);
      const { body: old } = await send(alice, chat.id, 'before carol');
      await as(alice).post(`/chats/${chat.id}/members`, { userIds: [carol.user.id] });
      const summary = (await as(carol).get('/chats?limit=100')).body.items.find((c: { id: string }) => c.id === chat.id);
      expect(summary.unreadCount).toBe(0);
      const members = (await as(alice).get(`/chats/${chat.id}`)).body.members as Array<{ userId: string; joinedSeq: number }>;
      expect(members.find((m) => m.userId === carol.user.id)).toMatchObject({ lastReadSeq: old.seq, joinedSeq: old.seq });
      const readers = (id: string) => as(alice).get(`/chats/${chat.id}/messages/${id}/reads`);
      expect((await readers(old.id)).body).toEqual([]);
      // Bob read it: he was sent it. Carol reads what came after she did: she is listed for that.
      await as(bob).post(`/chats/${chat.id}/read`, { seq: old.seq });
      const { body: later } = await send(alice, chat.id, 'with carol');
      await as(carol).post(`/chats/${chat.id}/read`, { seq: later.seq });
      expect((await readers(old.id)).body).toEqual([{ userId: bob.user.id, readAt: expect.any(String) }]);
      expect((await readers(later.id)).body).toEqual([{ userId: carol.user.id, readAt: expect.any(String) }]);

      // Removed and added back: what was sent while away is not theirs to have read either.
      await as(alice).del(`/chats/${chat.id}/members/${carol.user.id}`);
      const { body: away } = await send(alice, chat.id, 'while carol was away');
      await as(alice).post(`/chats/${chat.id}/members`, { userIds: [carol.user.id] });
      expect((await readers(away.id)).body).toEqual([]);
    });

    it('pages through users who share a name, non-ASCII ones too, each exactly once', async () => {
      const tag = randomUUID().slice(0, 8);
      // JavaScript lower-cases a final Σ to ς, PostgreSQL to σ: the cursor must use the database's.
      const twins = await Promise.all([1, 2, 3].map((i) => signUpAndIn(request, `ΟΔΥΣΣΕΥΣ ${tag}`, `sigma-${tag}-${i}@example.com`)));
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const query = encodeURIComponent(`ΟΔΥΣΣΕΥΣ ${tag}`);
        // The first page's cursor parameter is empty: the same as none.
        const result = await as(alice).get(`/users?query=${query}&limit=1&cursor=${cursor ?? ''}`);
        expect(result.status).toBe(200);
        // Every page holds one: the last full page already says there is no next one.
        expect(result.body.items).toHaveLength(1);
        seen.push(...result.body.items.map((u: { id: string }) => u.id));
        cursor = result.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen.sort()).toEqual(twins.map((t) => t.user.id).sort());
      const byName = await as(alice).get(`/users?query=${encodeURIComponent('οδυσσευσ')}&limit=100`);
      expect(byName.body.items.map((u: { id: string }) => u.id)).toEqual(expect.arrayContaining(twins.map((t) => t.user.id)));
    });

    it('finds a user by the start of their name or by their whole confirmed email, never by the start of an email', async () => {
      const tag = randomUUID().slice(0, 8);
      const zed = await signUpAndIn(request, `Zed ${tag}`, `hidden-${tag}@example.com`);
      const ids = async (query: string) =>
        (await as(alice).get(`/users?query=${encodeURIComponent(query)}&limit=100`)).body.items.map((u: { id: string }) => u.id);
      expect(await ids(`zed ${tag}`)).toEqual([zed.user.id]);
      // White space in the query as in names: each run one space (a name is stored so).
      expect(await ids(`  Zed \t  ${tag.slice(0, 4)}`)).toEqual([zed.user.id]);
      // Not confirmed yet: anyone can sign up as anyone@example.com, so the address proves nothing.
      expect(await ids(`hidden-${tag}@example.com`)).toEqual([]);
      await app.app.get(DataSource).query(`UPDATE users SET email_confirmed_at = now() WHERE id = $1`, [zed.user.id]);
      expect(await ids(`HIDDEN-${tag}@Example.com`)).toEqual([zed.user.id]);
      // A prefix of an email would tell, one character at a time, what someone's address is.
      expect(await ids(`hidden-${tag}`)).toEqual([]);
      expect(await ids(`hidden-${tag}@example.co`)).toEqual([]);
    });

    it('answers forged cursors and out-of-range numbers with 400, not 500', async () => {
      const chat = await group(alice, [bob]);
      const forged = Buffer.from(JSON.stringify({ activityAt: 'x', id: 'y' })).toString('base64url');
      expectErrorShape(await as(alice).get(`/chats?cursor=${forged}`), 400, 'INVALID_CURSOR');
      expectErrorShape(await as(alice).get(`/users?cursor=${forged}`), 400, 'INVALID_CURSOR');
      // Dates JavaScript reads but PostgreSQL does not ("1" is the year 2001 to Date.parse), or
      // reads differently: only the ISO form a cursor is made with passes.
      const cursorOf = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const dates = [
        '1',
        'Tue Dec 01 2026',
        '2026-12-01',
        '2026-02-30T00:00:00.000Z',
        '0000-01-01T00:00:00.000Z',
        '+275760-09-13T00:00:00.000Z',
      ];
      for (const activityAt of dates)
        expectErrorShape(await as(alice).get(`/chats?cursor=${cursorOf({ activityAt, id: randomUUID() })}`), 400, 'INVALID_CURSOR');
      // Parley's cursors hold lower-case ids; a store comparing ids as text would page on from elsewhere.
      const upper = { activityAt: new Date().toISOString(), id: randomUUID().toUpperCase() };
      expectErrorShape(await as(alice).get(`/chats?cursor=${cursorOf(upper)}`), 400, 'INVALID_CURSOR');
      for (const query of ['before=99999999999999999999', 'after=99999999999999999999', 'offset=9999999999999999999999']) {
        expectErrorShape(await as(alice).get(`/chats/${chat.id}/messages?${query}`), 400, 'VALIDATION_FAILED');
      }
      expectErrorShape(await as(alice).post(`/chats/${chat.id}/read`, { seq: 1e20 }), 400, 'VALIDATION_FAILED');
    });

    it('tells a sender their message was seen when the last reader moved on by replying', async () => {
      const chat = await group(alice, [bob, carol]);
      const seen: MessageSeenEvent[] = [];
      const subscription = app.app
        .get(EventBus)
        .pipe(ofType(MessageSeenEvent))
        .subscribe((e) => e.chatId === chat.id && seen.push(e));
      try {
        await send(alice, chat.id, 'question');
        await as(bob).post(`/chats/${chat.id}/read`, { seq: 1 });
        expect(seen).toEqual([]);
        await send(carol, chat.id, 'answer without marking read');
        // Worked out right after the send is answered, not before.
        await eventually(() => seen.length > 0);
        await pause(100);
        expect(seen.map((e) => [e.senderId, e.seq])).toEqual([[alice.user.id, 1]]);
      } finally {
        subscription.unsubscribe();
      }
    });
  });

  describe('my chats', () => {
    it('lists chats by most recent activity with the last message and direct titles, in cursor pages', async () => {
      const me = await signUpAndIn(request, 'Lister');
      const chats = [];
      for (let i = 0; i < 5; i++) chats.push(await group(me, [bob], `L${i}`));
      const { body: direct } = await as(me).post('/chats', { type: 'direct', userId: carol.user.id });
      await send(me, chats[1].id, 'bump');
      const all: Array<{ id: string; title: string; lastMessage: { text: string } | null }> = [];
      let cursor: string | null = null;
      do {
        const page = await as(me).get(`/chats?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        // Six chats, two a page: three full pages, the last saying there is no next one.
        expect(page.body.items).toHaveLength(2);
        all.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(all.map((c) => c.id)).toEqual([chats[1].id, direct.id, chats[4].id, chats[3].id, chats[2].id, chats[0].id]);
      expect(all[0].lastMessage?.text).toBe('bump');
      expect(all[1].title).toBe('Carol');
      expectErrorShape(await as(me).get('/chats?cursor=garbage'), 400, 'INVALID_CURSOR');
    });

    it('counts a rename or a new member as activity: the list order and the updatedAt it shows agree', async () => {
      const me = await signUpAndIn(request, 'Orderer');
      const [oldest, middle, newest] = [await group(me, [bob]), await group(me, [bob]), await group(me, [bob])];
      expect((await as(me).patch(`/chats/${oldest.id}`, { title: `Renamed ${randomUUID().slice(0, 8)}` })).status).toBe(200);
      expect((await as(me).post(`/chats/${middle.id}/members`, { userIds: [carol.user.id] })).status).toBe(201);
      const items = (await as(me).get('/chats?limit=100')).body.items as Array<{ id: string; updatedAt: string }>;
      expect(items.map((c) => c.id).slice(0, 3)).toEqual([middle.id, oldest.id, newest.id]);
      const shown = items.map((c) => Date.parse(c.updatedAt));
      expect(shown).toEqual([...shown].sort((x, y) => y - x));
    });
  });
});
