import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { MessagesService } from '../src/modules/messages/messages.service.js';
import { PresenceService } from '../src/realtime/presence.service.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { connectReady, eventually, openSocket, pause, type TestSocket } from './support/ws.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis.js';

describe('messaging over the WebSocket gateway', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  let alice: SignedIn, bob: SignedIn, carol: SignedIn;
  const sockets: TestSocket[] = [];
  const connect = async (who: SignedIn, target = app) => {
    const socket = await connectReady(target.wsUrl, who.accessToken);
    sockets.push(socket);
    return socket;
  };
  const newGroup = async (owner: SignedIn, members: SignedIn[]) =>
    (
      await request('POST', '/api/v1/chats', {
        token: owner.accessToken,
        body: { type: 'group', title: `G ${randomUUID()}`, memberIds: members.map((m) => m.user.id) },
      })
    ).body as {
      id: string;
    };

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
    request = httpClient(app.url);
    [alice, bob, carol] = await Promise.all([signUpAndIn(request, 'Alice'), signUpAndIn(request, 'Bob'), signUpAndIn(request, 'Carol')]);
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('acks a send_message with the stored message and delivers it to every device of every member, and no one else', async () => {
    const chat = await newGroup(alice, [bob]);
    const [aliceWs, bobPhone, bobLaptop, carolWs] = [await connect(alice), await connect(bob), await connect(bob), await connect(carol)];
    const clientId = randomUUID();
    const ack = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'hello', clientId });
    expect(ack).toEqual({
      type: 'message_ack',
      id: expect.any(String),
      clientId,
      message: expect.objectContaining({ chatId: chat.id, seq: 1, text: 'hello', senderId: alice.user.id, clientId }),
    });
    for (const socket of [aliceWs, bobPhone, bobLaptop]) {
      expect((await socket.nextOfType('new_message')).message).toEqual(ack.message);
    }
    await carolWs.settle();
    expect(carolWs.seen('new_message')).toEqual([]);
  });

  it("pipelines a socket's sends: the next starts before the previous commits, yet all are stored, acked and delivered in the order sent", async () => {
    const [chat, other] = [await newGroup(alice, [bob]), await newGroup(alice, [carol])];
    const [aliceWs, bobWs] = [await connect(alice), await connect(bob)];
    const repository = app.app.get(MessageRepository);
    let outstanding = 0;
    let mostOutstanding = 0;
    const store = repository.append.bind(repository);
    const append = jest.spyOn(repository, 'append').mockImplementation((input) => {
      mostOutstanding = Math.max(mostOutstanding, ++outstanding);
      return store(input).finally(() => outstanding--);
    });
    try {
      // Back to back on one socket: 40 to one chat, 10 to another, and one invalid in between.
      const frames = Array.from({ length: 50 }, (_, i) => ({
        type: 'send_message',
        id: `f${i}`,
        chatId: i % 5 === 4 ? other.id : chat.id,
        text: i === 20 ? '   ' : `m${i}`,
        clientId: randomUUID(),
      }));
      for (const frame of frames) aliceWs.send(frame);
      const replies = await Promise.all(frames.map((f) => aliceWs.next((r) => r.id === f.id)));
      expect(replies[20]).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      const acks = replies.filter((r) => r.type === 'message_ack');
      expect(acks).toHaveLength(49);
      for (const chatId of [chat.id, other.id]) {
        const mine = acks.filter((a) => a.message.chatId === chatId).map((a) => a.message.text);
        const sent = frames.filter((f, i) => f.chatId === chatId && i !== 20).map((f) => f.text);
        expect(mine).toEqual(sent); // acked in the order sent ...
        const seqs = acks.filter((a) => a.message.chatId === chatId).map((a) => a.message.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // ... and numbered in it
      }
      // The order acks left the server in is the order they arrived in.
      const ackOrder = aliceWs.seen('message_ack').map((a) => a.message.text);
      expect(ackOrder.filter((t) => acks.find((a) => a.message.text === t)?.message.chatId === chat.id)).toEqual(
        acks.filter((a) => a.message.chatId === chat.id).map((a) => a.message.text),
      );
      await eventually(() => bobWs.seen('new_message').length === 39);
      expect(bobWs.seen('new_message').map((m) => m.message.seq)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
      expect(mostOutstanding).toBeGreaterThan(1);
    } finally {
      append.mockRestore();
    }
  });

  it('delivers REST sends, edits and deletes to sockets too', async () => {
    const chat = await newGroup(alice, [bob]);
    const bobWs = await connect(bob);
    const sent = await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: alice.accessToken, body: { text: 'via REST' } });
    expect((await bobWs.nextOfType('new_message')).message).toEqual(sent.body);
    await request('PATCH', `/api/v1/chats/${chat.id}/messages/${sent.body.id}`, { token: alice.accessToken, body: { text: 'edited' } });
    expect((await bobWs.nextOfType('message_updated')).message).toMatchObject({ id: sent.body.id, text: 'edited' });
    await request('DELETE', `/api/v1/chats/${chat.id}/messages/${sent.body.id}`, { token: alice.accessToken });
    expect(await bobWs.nextOfType('message_deleted')).toEqual({ type: 'message_deleted', chatId: chat.id, id: sent.body.id, seq: 1 });
  });

  it('answers a repeated clientId with the original message and broadcasts it once', async () => {
    const chat = await newGroup(alice, [bob]);
    const [aliceWs, bobWs] = [await connect(alice), await connect(bob)];
    const clientId = randomUUID();
    const first = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'once', clientId });
    const again = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'once', clientId });
    expect(again.message).toEqual(first.message);
    await bobWs.nextOfType('new_message');
    await pause(100);
    await bobWs.settle();
    expect(bobWs.seen('new_message')).toHaveLength(1);
  });

  it('answers bad frames with error frames carrying the id, and keeps the socket open', async () => {
    const chat = await newGroup(alice, [bob]);
    const carolWs = await connect(carol);
    const aliceWs = await connect(alice);
    const invalid = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: '   ', clientId: randomUUID() });
    expect(invalid).toMatchObject({ type: 'error', statusCode: 400, code: 'VALIDATION_FAILED', message: expect.any(String) });
    const unknownField = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'x', clientId: randomUUID(), pinned: true });
    expect(unknownField).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    const notMember = await carolWs.request({ type: 'send_message', chatId: chat.id, text: 'let me in', clientId: randomUUID() });
    expect(notMember).toMatchObject({ type: 'error', statusCode: 404, code: 'CHAT_NOT_FOUND' });
    expect(await carolWs.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(carolWs.isOpen).toBe(true);
    expect((await request('GET', `/api/v1/chats/${chat.id}/messages?offset=0`, { token: alice.accessToken })).body.total).toBe(0);
  });

  it('relays typing to the other members only, and limits its rate per user, whatever the sockets', async () => {
    const chat = await newGroup(alice, [bob]);
    const [aliceWs, bobWs, carolWs] = [await connect(alice), await connect(bob), await connect(carol)];
    aliceWs.send({ type: 'typing', chatId: chat.id, isTyping: true });
    expect(await bobWs.nextOfType('typing')).toEqual({ type: 'typing', chatId: chat.id, userId: alice.user.id, isTyping: true });
    await aliceWs.settle();
    await carolWs.settle();
    expect(aliceWs.seen('typing')).toEqual([]);
    expect(carolWs.seen('typing')).toEqual([]);
    // From someone not in the chat: refused as for any chat they are not in, and relayed to no one.
    carolWs.send({ type: 'typing', chatId: chat.id, isTyping: true, id: 'outsider' });
    await carolWs.settle();
    expect(carolWs.seen('error')).toEqual([expect.objectContaining({ id: 'outsider', statusCode: 404, code: 'CHAT_NOT_FOUND' })]);
    await bobWs.settle();
    expect(bobWs.seen('typing')).toHaveLength(1);
    for (let i = 0; i < 8; i++) aliceWs.send({ type: 'typing', chatId: chat.id, isTyping: true, id: `t${i}` });
    await aliceWs.settle();
    const limited = aliceWs.seen('error').filter((f) => f.code === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThanOrEqual(3); // a burst of 5 is allowed, one of them spent above
    expect(limited[0]).toMatchObject({ statusCode: 429, retryAfter: 1, id: expect.stringMatching(/^t\d$/) });
    const stored = await request('GET', `/api/v1/chats/${chat.id}/messages?offset=0`, { token: alice.accessToken });
    expect(stored.body.total).toBe(0);
  });

  it('moves the read pointer with mark_read, tells the chat, and tells the sender once all have seen', async () => {
    const chat = await newGroup(alice, [bob, carol]);
    const [aliceWs, bobWs, carolWs] = [await connect(alice), await connect(bob), await connect(carol)];
    const ack = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'read me', clientId: randomUUID() });
    bobWs.send({ type: 'mark_read', chatId: chat.id, seq: ack.message.seq });
    expect(await aliceWs.next((f) => f.type === 'read' && f.userId === bob.user.id)).toEqual({
      type: 'read',
      chatId: chat.id,
      userId: bob.user.id,
      seq: 1,
    });
    await aliceWs.settle();
    expect(aliceWs.seen('message_seen')).toEqual([]);
    carolWs.send({ type: 'mark_read', chatId: chat.id, seq: 1 });
    expect(await aliceWs.nextOfType('message_seen')).toEqual({ type: 'message_seen', chatId: chat.id, seq: 1 });
    carolWs.send({ type: 'mark_read', chatId: chat.id, seq: 1 });
    await carolWs.settle();
    await aliceWs.settle();
    expect(aliceWs.seen('message_seen')).toHaveLength(1);
    expect(bobWs.seen('message_seen')).toEqual([]);
  });

  it('tells the sender message_seen when the last member who had not read it leaves or is removed', async () => {
    const dave = await signUpAndIn(request, 'Dave');
    const chat = await newGroup(alice, [bob, carol, dave]);
    const [aliceWs, bobWs] = [await connect(alice), await connect(bob)];
    const first = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'one', clientId: randomUUID() });
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'two', clientId: randomUUID() });
    bobWs.send({ type: 'mark_read', chatId: chat.id, seq: 2 });
    await request('POST', `/api/v1/chats/${chat.id}/read`, { token: carol.accessToken, body: { seq: first.message.seq } });
    await aliceWs.next((f) => f.type === 'read' && f.userId === carol.user.id);
    expect(aliceWs.seen('message_seen')).toEqual([]);

    // Dave read nothing: with him gone, everyone left has read up to 1.
    expect((await request('DELETE', `/api/v1/chats/${chat.id}/members/${dave.user.id}`, { token: dave.accessToken })).status).toBe(204);
    expect(await aliceWs.nextOfType('message_seen')).toEqual({ type: 'message_seen', chatId: chat.id, seq: 1 });
    // Carol, removed by the owner, was the last one short of 2.
    expect((await request('DELETE', `/api/v1/chats/${chat.id}/members/${carol.user.id}`, { token: alice.accessToken })).status).toBe(204);
    expect(await aliceWs.nextOfType('message_seen')).toEqual({ type: 'message_seen', chatId: chat.id, seq: 2 });
    await aliceWs.settle();
    expect(aliceWs.seen('message_seen')).toHaveLength(2);
  });

  it('catches up with sync after a reconnect: everything missed, once, in seq order, then synced', async () => {
    const chat = await newGroup(alice, [bob]);
    const quiet = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    let bobWs = await connect(bob);
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'm1', clientId: randomUUID() });
    const lastSeen = (await bobWs.nextOfType('new_message')).message.seq;
    await bobWs.close();
    for (let i = 2; i <= 60; i++) await aliceWs.request({ type: 'send_message', chatId: chat.id, text: `m${i}`, clientId: randomUUID() });
    bobWs = await connect(bob);
    const synced = await bobWs.request({ type: 'sync', chats: { [chat.id]: lastSeen, [quiet.id]: 0 } });
    expect(synced).toEqual({ type: 'synced', id: expect.any(String), chats: { [chat.id]: 60, [quiet.id]: 0 } });
    expect(bobWs.seen('new_message').map((f) => f.message.seq)).toEqual(Array.from({ length: 59 }, (_, i) => i + 2));
    const bad = await bobWs.request({ type: 'sync', chats: { [quiet.id]: 0, 'not-a-uuid': 1 } });
    expect(bad).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    // Among many chats, the error names the one that is wrong.
    expect(bad.details).toEqual([{ field: 'chats', message: expect.stringMatching(/; "not-a-uuid" is not a UUID$/) }]);
    const badSeq = await bobWs.request({ type: 'sync', chats: { [quiet.id]: 0, [chat.id]: -1 } });
    expect(badSeq.details).toEqual([{ field: 'chats', message: expect.stringMatching(new RegExp(`; the seq of ${chat.id} is -1$`)) }]);
    // What it echoes of the frame is cut short.
    const bulky = await bobWs.request({ type: 'sync', chats: { [chat.id]: 'x'.repeat(5_000) } });
    expect(bulky.details[0].message).toMatch(/is "x{63}…$/);
    // A seq past the chat's newest (a confused client) is answered with the newest: that is what it has.
    const ahead = await bobWs.request({ type: 'sync', chats: { [chat.id]: 99_999, [quiet.id]: 7 } });
    expect(ahead).toEqual({ type: 'synced', id: expect.any(String), chats: { [chat.id]: 60, [quiet.id]: 0 } });
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'after', clientId: randomUUID() });
    expect((await bobWs.next((f) => f.type === 'new_message' && f.message.text === 'after')).message.seq).toBe(61);
  });

  it('gives a client that reconnects while others keep sending every message exactly once, in order', async () => {
    const chat = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    let bobWs = await connect(bob);
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'first', clientId: randomUUID() });
    const lastSeen = (await bobWs.nextOfType('new_message')).message.seq;
    await bobWs.close();

    let sent = 1;
    let syncDone = false;
    const sending = (async () => {
      while (!syncDone || sent < 60) {
        await Promise.all(
          Array.from({ length: 4 }, () =>
            aliceWs.request({ type: 'send_message', chatId: chat.id, text: `m${++sent}`, clientId: randomUUID() }),
          ),
        );
      }
    })();
    while (sent < 20) await pause(5);
    bobWs = await connect(bob);
    // Messages keep arriving while the client gets round to its sync (well within the server's hold).
    await pause(300);
    const synced = await bobWs.request({ type: 'sync', chats: { [chat.id]: lastSeen } });
    syncDone = true;
    expect(synced.type).toBe('synced');
    await sending;
    const last = (await request('GET', `/api/v1/chats/${chat.id}/messages?limit=1`, { token: bob.accessToken })).body.items[0].seq;
    await eventually(() => bobWs.seen('new_message').some((f) => f.message.seq === last));
    await bobWs.settle();

    // Exactly once, and in seq order: live frames wait while the missed history goes out first.
    const seqs = bobWs.seen('new_message').map((f) => f.message.seq as number);
    expect(seqs).toEqual(Array.from({ length: last - lastSeen }, (_, i) => lastSeen + 1 + i));
  });

  it('keeps each chat of one sync in seq order while live messages arrive in a chat still waiting its turn', async () => {
    const [big, small, other] = [await newGroup(alice, [bob]), await newGroup(alice, [bob]), await newGroup(alice, [bob])];
    const aliceWs = await connect(alice);
    // Bob is offline while both chats get messages he will have to catch up on.
    for (let i = 1; i <= 120; i++) aliceWs.send({ type: 'send_message', chatId: big.id, text: `b${i}`, clientId: randomUUID() });
    for (let i = 1; i <= 3; i++) await aliceWs.request({ type: 'send_message', chatId: small.id, text: `s${i}`, clientId: randomUUID() });
    await eventually(() => aliceWs.seen('message_ack').filter((f) => f.message.chatId === big.id).length === 120);

    const bobWs = await connect(bob);
    // A first sync ends the hold every new connection starts with; from then on live frames flow.
    expect(await bobWs.request({ type: 'sync', chats: { [other.id]: 0 } })).toMatchObject({ type: 'synced' });
    // The big chat's history takes a while to page through (slowed here to make that certain),
    // and the small chat gets live messages meanwhile, before its own catch-up has begun.
    const service = app.app.get(MessagesService);
    const since = service.since.bind(service);
    let bigStarted!: () => void;
    const paging = new Promise<void>((resolve) => (bigStarted = resolve));
    const slowed = jest.spyOn(service, 'since').mockImplementation(async function* (userId, chatId, seq, pageSize) {
      for await (const page of since(userId, chatId, seq, pageSize)) {
        if (chatId === big.id) {
          bigStarted();
          await pause(100);
        }
        yield page;
      }
    });
    try {
      const syncing = bobWs.request({ type: 'sync', chats: { [big.id]: 0, [small.id]: 0 } });
      await paging; // the sync is paging through the big chat; the small one waits its turn
      for (let i = 4; i <= 6; i++) await aliceWs.request({ type: 'send_message', chatId: small.id, text: `s${i}`, clientId: randomUUID() });
      expect(await syncing).toEqual({ type: 'synced', id: expect.any(String), chats: { [big.id]: 120, [small.id]: 6 } });
    } finally {
      slowed.mockRestore();
    }
    await eventually(() => bobWs.seen('new_message').some((f) => f.message.chatId === small.id && f.message.seq === 6));
    await bobWs.settle();

    const seqsOf = (chatId: string) =>
      bobWs
        .seen('new_message')
        .filter((f) => f.message.chatId === chatId)
        .map((f) => f.message.seq as number);
    expect(seqsOf(big.id)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(seqsOf(small.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("writes a chat's live frames held during a sync before the error that ends its part (the member removed meanwhile), none after", async () => {
    const first = await newGroup(alice, [bob]);
    const left = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    await aliceWs.request({ type: 'send_message', chatId: first.id, text: 'f1', clientId: randomUUID() });
    for (let i = 1; i <= 2; i++) await aliceWs.request({ type: 'send_message', chatId: left.id, text: `l${i}`, clientId: randomUUID() });
    const bobWs = await connect(bob);
    expect(await bobWs.request({ type: 'sync', chats: {} })).toMatchObject({ type: 'synced' });

    // The sync reaches `left` only once the first chat's page is let through: meanwhile `left`
    // gets two messages (held for the sync) and bob is removed from it.
    const service = app.app.get(MessagesService);
    const since = service.since.bind(service);
    let firstPaging!: () => void;
    const paging = new Promise<void>((resolve) => (firstPaging = resolve));
    let letThrough!: () => void;
    const gate = new Promise<void>((resolve) => (letThrough = resolve));
    const held = jest.spyOn(service, 'since').mockImplementation(async function* (userId, chatId, seq, pageSize) {
      if (chatId === first.id) {
        firstPaging();
        await gate;
      }
      yield* since(userId, chatId, seq, pageSize);
    });
    try {
      // The chat that fails answers with an error frame carrying the sync's id too: wait for `synced`.
      bobWs.send({ type: 'sync', chats: { [first.id]: 0, [left.id]: 0 }, id: 'sync-left' });
      const syncing = bobWs.next((f) => f.type === 'synced' && f.id === 'sync-left');
      await paging;
      for (let i = 3; i <= 4; i++) await aliceWs.request({ type: 'send_message', chatId: left.id, text: `l${i}`, clientId: randomUUID() });
      expect((await request('DELETE', `/api/v1/chats/${left.id}/members/${bob.user.id}`, { token: alice.accessToken })).status).toBe(204);
      letThrough();
      expect(await syncing).toEqual({ type: 'synced', id: expect.any(String), chats: { [first.id]: 1 } });
    } finally {
      held.mockRestore();
    }
    await bobWs.settle();
    const frames = bobWs.history.filter((f) => f?.chatId === left.id || f?.message?.chatId === left.id);
    const errorAt = frames.findIndex((f) => f.type === 'error');
    expect(frames[errorAt]).toMatchObject({ type: 'error', code: 'CHAT_NOT_FOUND', chatId: left.id });
    expect(frames.slice(errorAt + 1).filter((f) => f.type === 'new_message')).toEqual([]);
    expect(frames.slice(0, errorAt).map((f) => f.message?.seq)).toEqual([3, 4]);
  });

  it('answers a send holding U+0000 with VALIDATION_FAILED naming text, and stores nothing', async () => {
    const chat = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    const refused = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'a\u0000b', clientId: randomUUID() });
    expect(refused).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', statusCode: 400, details: [{ field: 'text' }] });
    const ack = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'ok', clientId: randomUUID() });
    expect(ack.message.seq).toBe(1);
  });

  it('takes ids written in upper case as the same chat and clientId: one sync, events and idempotency all agree', async () => {
    const chat = await newGroup(alice, [bob]);
    const CHAT = chat.id.toUpperCase();
    const aliceWs = await connect(alice);
    const clientId = randomUUID().toUpperCase();
    const ack = await aliceWs.request({ type: 'send_message', chatId: CHAT, text: 'm1', clientId });
    expect(ack).toMatchObject({ type: 'message_ack', clientId, message: { chatId: chat.id, seq: 1, clientId: clientId.toLowerCase() } });
    const again = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'm1', clientId: clientId.toLowerCase() });
    expect(again.message.id).toBe(ack.message.id);
    for (let i = 2; i <= 80; i++) aliceWs.send({ type: 'send_message', chatId: CHAT, text: `m${i}`, clientId: randomUUID().toUpperCase() });
    await eventually(() => aliceWs.seen('message_ack').length === 81);

    const bobWs = await connect(bob);
    const service = app.app.get(MessagesService);
    const since = service.since.bind(service);
    let paging!: () => void;
    const started = new Promise<void>((resolve) => (paging = resolve));
    const slowed = jest.spyOn(service, 'since').mockImplementation(async function* (userId, chatId, seq, pageSize) {
      for await (const page of since(userId, chatId, seq, pageSize)) {
        paging();
        await pause(100);
        yield page;
      }
    });
    try {
      const syncing = bobWs.request({ type: 'sync', chats: { [CHAT]: 0 } });
      await started; // live messages arrive while the history pages out
      for (let i = 81; i <= 85; i++) await aliceWs.request({ type: 'send_message', chatId: CHAT, text: `m${i}`, clientId: randomUUID() });
      expect(await syncing).toMatchObject({ type: 'synced', chats: { [chat.id]: expect.any(Number) } });
    } finally {
      slowed.mockRestore();
    }
    await eventually(() => bobWs.seen('new_message').some((f) => f.message.seq === 85));
    await bobWs.settle();
    expect(bobWs.seen('new_message').map((f) => f.message.seq as number)).toEqual(Array.from({ length: 85 }, (_, i) => i + 1));

    bobWs.send({ type: 'typing', chatId: CHAT, isTyping: true });
    expect(await aliceWs.nextOfType('typing')).toMatchObject({ chatId: chat.id, userId: bob.user.id });
    bobWs.send({ type: 'mark_read', chatId: CHAT, seq: 85 });
    expect(await aliceWs.next((f) => f.type === 'read' && f.userId === bob.user.id)).toMatchObject({ chatId: chat.id, seq: 85 });
  });

  it('sends every message after lastSeq on a second sync too, even those this connection already had', async () => {
    const chat = await newGroup(alice, [bob]);
    const [aliceWs, bobWs] = [await connect(alice), await connect(bob)];
    await bobWs.request({ type: 'sync', chats: { [chat.id]: 0 } });
    for (const text of ['a', 'b', 'c']) await aliceWs.request({ type: 'send_message', chatId: chat.id, text, clientId: randomUUID() });
    await eventually(() => bobWs.seen('new_message').length === 3);
    // The client lost its local copy and asks again from the start, on the same connection.
    const again = await bobWs.request({ type: 'sync', chats: { [chat.id]: 0 } });
    expect(again).toMatchObject({ type: 'synced', chats: { [chat.id]: 3 } });
    expect(bobWs.seen('new_message').map((f) => f.message.text)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('answers a chat of a sync the caller may not read with an error under the sync frame id, and syncs the rest', async () => {
    const [mine, notMine] = [await newGroup(alice, [bob]), await newGroup(alice, [carol])];
    const aliceWs = await connect(alice);
    await aliceWs.request({ type: 'send_message', chatId: mine.id, text: 'hi', clientId: randomUUID() });
    const bobWs = await connect(bob);
    bobWs.send({ type: 'sync', chats: { [notMine.id]: 0, [mine.id]: 0 }, id: 'sync-1' });
    const synced = await bobWs.nextOfType('synced');
    expect(synced).toEqual({ type: 'synced', id: 'sync-1', chats: { [mine.id]: 1 } });
    expect(bobWs.seen('error')).toEqual([
      expect.objectContaining({ type: 'error', id: 'sync-1', chatId: notMine.id, code: 'CHAT_NOT_FOUND', statusCode: 404 }),
    ]);
    expect(bobWs.seen('new_message').map((f) => f.message.seq)).toEqual([1]);
  });

  it('sends an edit or delete made while a new connection holds new messages back after the message it changes', async () => {
    const chat = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    // Bob has just connected and does not sync: his new_message frames wait out the hold (1 s).
    const bobWs = await connect(bob);
    const { message } = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'oops', clientId: randomUUID() });
    const path = `/api/v1/chats/${chat.id}/messages/${message.id}`;
    expect((await request('PATCH', path, { token: alice.accessToken, body: { text: 'oops, edited' } })).status).toBe(200);
    expect((await request('DELETE', path, { token: alice.accessToken })).status).toBe(204);
    await bobWs.nextOfType('message_deleted', 5_000);
    await bobWs.settle();
    const about = bobWs.history.filter((f) => (f.message?.id ?? f.id) === message.id && f.type !== 'pong');
    expect(about.map((f) => f.type)).toEqual(['new_message', 'message_updated', 'message_deleted']);
  });

  it('announces an edit and a delete of one message in the order they were stored, even when the edit is slow to announce', async () => {
    const chat = await newGroup(alice, [bob]);
    const [aliceWs, bobWs] = [await connect(alice), await connect(bob)];
    await bobWs.request({ type: 'sync', chats: { [chat.id]: 0 } }); // ends the connection's hold
    const { message } = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'first take', clientId: randomUUID() });
    const repository = app.app.get(MessageRepository);
    const memberIds = repository.memberIds.bind(repository);
    let calls = 0;
    let editStored!: () => void;
    const announcing = new Promise<void>((resolve) => (editStored = resolve));
    // The edit's announcement (the first lookup of members, after the edit is stored) is slow; the delete's is not.
    const slowed = jest.spyOn(repository, 'memberIds').mockImplementation(async (chatId) => {
      if (++calls === 1) {
        editStored();
        await pause(300);
      }
      return memberIds(chatId);
    });
    try {
      const path = `/api/v1/chats/${chat.id}/messages/${message.id}`;
      const editing = request('PATCH', path, { token: alice.accessToken, body: { text: 'second take' } });
      await announcing; // the delete starts only once the edit is stored
      const deleting = request('DELETE', path, { token: alice.accessToken });
      expect((await editing).status).toBe(200);
      expect((await deleting).status).toBe(204);
    } finally {
      slowed.mockRestore();
    }
    await bobWs.nextOfType('message_deleted');
    await bobWs.settle();
    const changes = bobWs.history.filter((f) => f.type === 'message_updated' || f.type === 'message_deleted');
    expect(changes.map((f) => f.type)).toEqual(['message_updated', 'message_deleted']);
  });

  it('makes ready the first frame of a connection, even when events for it come while it is being counted online', async () => {
    const chat = await newGroup(alice, [bob]);
    const aliceWs = await connect(alice);
    const presence = app.app.get(PresenceService);
    const connected = presence.connected.bind(presence);
    let entered!: () => void;
    const counting = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const slowed = jest.spyOn(presence, 'connected').mockImplementation(async (entry) => {
      entered();
      await finished;
      return connected(entry);
    });
    try {
      const bobWs = await openSocket(app.wsUrl, { token: bob.accessToken });
      sockets.push(bobWs);
      await counting; // Bob's connection is registered for events, and not ready yet
      aliceWs.send({ type: 'typing', chatId: chat.id, isTyping: true });
      await aliceWs.settle();
      finish();
      await bobWs.nextOfType('ready');
      await bobWs.nextOfType('typing');
      // Presence frames (other tests' users going offline) may come in between: they are not what is judged.
      const types = bobWs.history.map((f) => f.type);
      expect(types[0]).toBe('ready');
      expect(types.filter((t) => t !== 'presence').slice(0, 2)).toEqual(['ready', 'typing']);
    } finally {
      slowed.mockRestore();
    }
  });

  it('stops delivering to a member the moment they are removed, and tells them', async () => {
    const chat = await newGroup(alice, [bob, carol]);
    const [aliceWs, carolWs] = [await connect(alice), await connect(carol)];
    // A message first: the chat has been delivered to carol before she goes.
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'before carol left', clientId: randomUUID() });
    await carolWs.nextOfType('new_message');
    await request('DELETE', `/api/v1/chats/${chat.id}/members/${carol.user.id}`, { token: alice.accessToken });
    expect(await carolWs.nextOfType('member_removed')).toEqual({ type: 'member_removed', chatId: chat.id, userId: carol.user.id });
    await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'after carol left', clientId: randomUUID() });
    await aliceWs.next((f) => f.type === 'new_message' && f.message.text === 'after carol left');
    await carolWs.settle();
    expect(carolWs.seen('new_message').map((f) => f.message.text)).toEqual(['before carol left']);
  });

  it('tells the members of a new owner when the owner leaves, as a role change is told', async () => {
    const chat = await newGroup(alice, [bob, carol]);
    const [bobWs, carolWs] = [await connect(bob), await connect(carol)];
    expect((await request('DELETE', `/api/v1/chats/${chat.id}/members/${alice.user.id}`, { token: alice.accessToken })).status).toBe(204);
    for (const socket of [bobWs, carolWs]) {
      expect(await socket.nextOfType('member_removed')).toEqual({ type: 'member_removed', chatId: chat.id, userId: alice.user.id });
      expect((await socket.nextOfType('chat_updated')).chat).toMatchObject({ id: chat.id, memberCount: 2 });
    }
    const { body } = await request('GET', `/api/v1/chats/${chat.id}`, { token: carol.accessToken });
    const owners = body.members.filter((m: { role: string }) => m.role === 'owner');
    expect(owners).toHaveLength(1);
    // A member who is not the owner leaving changes no role: no chat_updated.
    const [stays, leaves] = owners[0].userId === bob.user.id ? [bobWs, carol] : [carolWs, bob];
    expect((await request('DELETE', `/api/v1/chats/${chat.id}/members/${leaves.user.id}`, { token: leaves.accessToken })).status).toBe(204);
    await stays.nextOfType('member_removed');
    await stays.settle();
    expect(stays.seen('chat_updated')).toHaveLength(1);
  });

  it('announces chat creation, renames and new members to the members', async () => {
    const [bobWs, carolWs] = [await connect(bob), await connect(carol)];
    const chat = await newGroup(alice, [bob]);
    const bobsView = (await bobWs.next((f) => f.type === 'chat_created' && f.chat.id === chat.id)).chat;
    expect(bobsView).toMatchObject({ id: chat.id, type: 'group', peer: null, lastMessage: null, unreadCount: 0 });
    const direct = await request('POST', '/api/v1/chats', { token: alice.accessToken, body: { type: 'direct', userId: carol.user.id } });
    // The chat as each one's list shows it: titled with the other's name, with their profile.
    const listed = async (who: SignedIn, id: string) =>
      (await request('GET', '/api/v1/chats', { token: who.accessToken })).body.items.find((c: { id: string }) => c.id === id);
    const carolsView = (await carolWs.next((f) => f.type === 'chat_created' && f.chat.id === direct.body.id)).chat;
    expect(carolsView).toMatchObject({ title: 'Alice', type: 'direct', memberCount: 2, lastMessage: null, unreadCount: 0 });
    expect(carolsView).toEqual(await listed(carol, direct.body.id));
    expect(bobsView).toEqual(await listed(bob, chat.id));
    await request('PATCH', `/api/v1/chats/${chat.id}`, { token: alice.accessToken, body: { title: 'Renamed' } });
    expect((await bobWs.nextOfType('chat_updated')).chat).toMatchObject({ id: chat.id, title: 'Renamed' });
    await request('PATCH', `/api/v1/chats/${chat.id}/members/${bob.user.id}`, { token: alice.accessToken, body: { role: 'admin' } });
    expect((await bobWs.next((f) => f.type === 'chat_updated' && f.chat.title === 'Renamed')).chat.id).toBe(chat.id);
    await request('POST', `/api/v1/chats/${chat.id}/members`, { token: alice.accessToken, body: { userIds: [carol.user.id] } });
    expect(await bobWs.nextOfType('member_added')).toEqual({
      type: 'member_added',
      chatId: chat.id,
      userId: carol.user.id,
      role: 'member',
    });
    expect(await carolWs.next((f) => f.type === 'member_added' && f.chatId === chat.id)).toEqual({
      type: 'member_added',
      chatId: chat.id,
      userId: carol.user.id,
      role: 'member',
    });
    expect((await request('DELETE', `/api/v1/chats/${chat.id}`, { token: alice.accessToken })).status).toBe(204);
    for (const socket of [bobWs, carolWs])
      expect(await socket.nextOfType('chat_deleted')).toEqual({ type: 'chat_deleted', chatId: chat.id });
  });

  it('tells every device of the people one has direct chats with when one renames oneself: their chat is titled anew', async () => {
    const [dana, erin, finn] = await Promise.all([
      signUpAndIn(request, 'Dana'),
      signUpAndIn(request, 'Erin'),
      signUpAndIn(request, 'Finn'),
    ]);
    const direct = async (who: SignedIn, other: SignedIn) =>
      (await request('POST', '/api/v1/chats', { token: who.accessToken, body: { type: 'direct', userId: other.user.id } })).body as {
        id: string;
      };
    const [withErin, withFinn] = [await direct(dana, erin), await direct(finn, dana)];
    await newGroup(dana, [erin, finn]);
    const [danaWs, erinPhone, erinLaptop, finnWs] = [await connect(dana), await connect(erin), await connect(erin), await connect(finn)];

    const renamed = await request('PATCH', '/api/v1/users/me', { token: dana.accessToken, body: { name: '  Dana   Scully ' } });
    expect(renamed.body.name).toBe('Dana Scully');
    // As their GET /chats lists it, but for the unread count and the last message, which new_message moves.
    const listed = async (who: SignedIn, id: string) => {
      const item = (await request('GET', '/api/v1/chats', { token: who.accessToken })).body.items.find((c: { id: string }) => c.id === id);
      return { id: item.id, type: item.type, title: item.title, memberCount: item.memberCount, updatedAt: item.updatedAt, peer: item.peer };
    };
    for (const [socket, who, chatId] of [
      [erinPhone, erin, withErin.id],
      [erinLaptop, erin, withErin.id],
      [finnWs, finn, withFinn.id],
    ] as const) {
      const told = await socket.nextOfType('chat_updated');
      expect(told.chat).toMatchObject({
        title: 'Dana Scully',
        type: 'direct',
        memberCount: 2,
        peer: { id: dana.user.id, name: 'Dana Scully' },
      });
      expect(told.chat).toEqual(await listed(who, chatId));
    }

    // The same name again changes nothing and tells no one; the renamed user's own chats keep their titles.
    expect((await request('PATCH', '/api/v1/users/me', { token: dana.accessToken, body: { name: 'Dana Scully' } })).status).toBe(200);
    await Promise.all([danaWs.settle(), erinPhone.settle(), finnWs.settle()]);
    expect(danaWs.seen('chat_updated')).toEqual([]);
    expect(erinPhone.seen('chat_updated')).toHaveLength(1);
    expect(finnWs.seen('chat_updated')).toHaveLength(1);
  });

  it('takes an edit to the text a message has, or a rename to the title a chat has, as no change: nothing stored, nobody told', async () => {
    const title = `Same ${randomUUID()}`;
    const chat = (
      await request('POST', '/api/v1/chats', { token: alice.accessToken, body: { type: 'group', title, memberIds: [bob.user.id] } })
    ).body as { id: string; updatedAt: string };
    const sent = (await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: alice.accessToken, body: { text: 'as is' } })).body;
    const bobWs = await connect(bob);
    await bobWs.settle();
    const before = (await request('GET', `/api/v1/chats/${chat.id}`, { token: alice.accessToken })).body;

    const edit = await request('PATCH', `/api/v1/chats/${chat.id}/messages/${sent.id}`, {
      token: alice.accessToken,
      body: { text: 'as is' },
    });
    expect(edit.status).toBe(200);
    expect(edit.body).toEqual(sent);
    const rename = await request('PATCH', `/api/v1/chats/${chat.id}`, { token: alice.accessToken, body: { title: `  ${title} ` } });
    expect(rename.status).toBe(200);
    expect(rename.body).toEqual(before);
    // A rename in another case is a change, and is told: so the socket would have heard the others.
    await request('PATCH', `/api/v1/chats/${chat.id}`, { token: alice.accessToken, body: { title: title.toUpperCase() } });
    expect((await bobWs.nextOfType('chat_updated')).chat.title).toBe(title.toUpperCase());
    expect(bobWs.seen('message_updated')).toEqual([]);
    expect(bobWs.seen('chat_updated')).toHaveLength(1);
    const history = await request('GET', `/api/v1/chats/${chat.id}/messages`, { token: bob.accessToken });
    expect(history.body.items).toEqual([sent]);
  });

  it('never tells of a message after telling its reader they left: member_removed waits behind held messages', async () => {
    const chat = await newGroup(alice, [bob]);
    const bobWs = await connect(bob); // holds live messages until its sync, or for a second
    const sent = await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: alice.accessToken, body: { text: 'bye' } });
    expect(sent.status).toBe(201);
    const removal = await request('DELETE', `/api/v1/chats/${chat.id}/members/${bob.user.id}`, { token: alice.accessToken });
    expect(removal.status).toBe(204);
    await bobWs.nextOfType('member_removed', 5_000);
    const order = bobWs.history.filter((f) => f.type === 'new_message' || f.type === 'member_removed').map((f) => f.type);
    expect(order).toEqual(['new_message', 'member_removed']);
  });

  it('tells contacts when a user comes online and goes offline', async () => {
    const [dora, eve] = await Promise.all([signUpAndIn(request, 'Dora'), signUpAndIn(request, 'Eve')]);
    await newGroup(dora, [eve]);
    const doraWs = await connect(dora);
    const eveWs = await connect(eve);
    expect(await doraWs.next((f) => f.type === 'presence' && f.userId === eve.user.id && f.online)).toMatchObject({ online: true });
    await eveWs.close();
    const offline = await doraWs.next((f) => f.type === 'presence' && f.userId === eve.user.id && !f.online);
    expect(offline.lastSeenAt).toEqual(expect.any(String));
  });
});

describe('messaging across two instances', () => {
  let db: TestDatabase;
  let one: TestApp;
  let two: TestApp;
  /** One deployment of two instances: they share a prefix, their own. */
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const env = { ...db.env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix };
    [one, two] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });

  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await deleteRedisKeys(prefix);
    await db?.dispose();
  });

  it('delivers a message sent on one instance to the members connected to the other', async () => {
    const request = httpClient(one.url);
    const [alice, bob] = await Promise.all([signUpAndIn(request, 'Alice'), signUpAndIn(request, 'Bob')]);
    const chat = (
      await request('POST', '/api/v1/chats', {
        token: alice.accessToken,
        body: { type: 'group', title: 'Across', memberIds: [bob.user.id] },
      })
    ).body;
    const aliceOnOne = await connectReady(one.wsUrl, alice.accessToken);
    const bobOnTwo = await connectReady(two.wsUrl, bob.accessToken);
    const bobOnOne = await connectReady(one.wsUrl, bob.accessToken);
    try {
      const ack = await aliceOnOne.request({ type: 'send_message', chatId: chat.id, text: 'across', clientId: randomUUID() });
      expect((await bobOnTwo.nextOfType('new_message')).message).toEqual(ack.message);
      expect((await bobOnOne.nextOfType('new_message')).message).toEqual(ack.message);
      bobOnTwo.send({ type: 'typing', chatId: chat.id, isTyping: true });
      expect(await aliceOnOne.nextOfType('typing')).toMatchObject({ userId: bob.user.id });
      await bobOnTwo.settle();
      expect(bobOnTwo.seen('new_message')).toHaveLength(1);
    } finally {
      await Promise.all([aliceOnOne.close(), bobOnTwo.close(), bobOnOne.close()]);
    }
  });
});
