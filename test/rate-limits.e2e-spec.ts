import { randomUUID } from 'node:crypto';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { IMAGES, MIME } from './support/images.js';
import { connectReady, type TestSocket } from './support/ws.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('per-user rate limits', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp({
      ...db.env,
      RATE_LIMIT_MESSAGES_PER_USER: '4',
      RATE_LIMIT_CHATS_PER_USER: '3',
      RATE_LIMIT_SYNC_CHATS_PER_USER: '5',
      RATE_LIMIT_SEARCH_PER_USER: '2',
      RATE_LIMIT_UPLOADS_PER_USER: '1',
      RATE_LIMIT_READS_PER_USER: '3',
    });
    request = httpClient(app.url);
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  const connect = async (who: SignedIn) => {
    const socket = await connectReady(app.wsUrl, who.accessToken);
    sockets.push(socket);
    return socket;
  };
  const send = (who: SignedIn, chatId: string, text: string) =>
    request('POST', `/api/v1/chats/${chatId}/messages`, { token: who.accessToken, body: { text, clientId: randomUUID() } });

  it('limits sends and edits per user across REST and WebSocket: 429 with Retry-After, an error frame with retryAfter, nothing stored', async () => {
    const [alice, bob] = await Promise.all([signUpAndIn(request, 'Alice'), signUpAndIn(request, 'Bob')]);
    const chat = (await request('POST', '/api/v1/chats', { token: alice.accessToken, body: { type: 'direct', userId: bob.user.id } })).body;
    const aliceWs = await connect(alice);

    // Four tokens: two REST sends, one WebSocket send and one edit.
    const first = await send(alice, chat.id, 'one');
    expect((await send(alice, chat.id, 'two')).status).toBe(201);
    const ack = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'three', clientId: randomUUID() });
    expect(ack).toMatchObject({ type: 'message_ack', message: { seq: 3 } });
    const path = `/api/v1/chats/${chat.id}/messages/${first.body.id}`;
    expect((await request('PATCH', path, { token: alice.accessToken, body: { text: 'one, edited' } })).status).toBe(200);

    const limited = await send(alice, chat.id, 'four');
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(limited.body.message).toMatch(/too fast/);
    // 4 per minute: a token comes back every 15 s.
    expect(Number(limited.headers.get('retry-after'))).toBe(15);
    const frame = await aliceWs.request({ type: 'send_message', chatId: chat.id, text: 'five', clientId: randomUUID() });
    expect(frame).toMatchObject({ type: 'error', statusCode: 429, code: 'RATE_LIMITED', retryAfter: 15, id: expect.any(String) });
    expectErrorShape(await request('PATCH', path, { token: alice.accessToken, body: { text: 'again' } }), 429, 'RATE_LIMITED');
    expect(aliceWs.isOpen).toBe(true);

    // Bob has his own budget; reads and deletes are not limited (an admin cleaning up a flood must not be).
    expect((await send(bob, chat.id, 'bob here')).status).toBe(201);
    expect((await request('DELETE', `/api/v1/chats/${chat.id}/messages/${ack.message.id}`, { token: alice.accessToken })).status).toBe(204);
    const history = await request('GET', `/api/v1/chats/${chat.id}/messages?offset=0`, { token: alice.accessToken });
    expect(history.body.items.map((m: { text: string | null }) => m.text)).toEqual(['bob here', null, 'two', 'one, edited']);
  });

  it('charges nothing for a repeated clientId, answered from what was stored, up to the limit of such refunds', async () => {
    const [frank, grace] = await Promise.all([signUpAndIn(request, 'Frank'), signUpAndIn(request, 'Grace')]);
    const chat = (await request('POST', '/api/v1/chats', { token: frank.accessToken, body: { type: 'direct', userId: grace.user.id } }))
      .body;
    const frankWs = await connect(frank);
    const clientId = randomUUID();
    const body = { text: 'once', clientId };
    expect((await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: frank.accessToken, body })).status).toBe(201);
    // Retries whose answers were lost, over REST and over the WebSocket: as many as the limit are free.
    for (let i = 0; i < 2; i++) {
      expect((await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: frank.accessToken, body })).status).toBe(200);
      expect(await frankWs.request({ type: 'send_message', chatId: chat.id, text: 'once', clientId })).toMatchObject({
        type: 'message_ack',
        message: { seq: 1 },
      });
    }
    // The next repeat is charged, as a send is: of four tokens the first send took one and it one.
    expect((await request('POST', `/api/v1/chats/${chat.id}/messages`, { token: frank.accessToken, body })).status).toBe(200);
    for (const text of ['two', 'three']) expect((await send(frank, chat.id, text)).status).toBe(201);
    expectErrorShape(await send(frank, chat.id, 'four'), 429, 'RATE_LIMITED');
  });

  it('limits creating chats and adding members per user, so nobody can pile groups on others', async () => {
    const [spammer, target, other] = await Promise.all([
      signUpAndIn(request, 'Spam'),
      signUpAndIn(request, 'Target'),
      signUpAndIn(request, 'Other'),
    ]);
    const create = (title: string) =>
      request('POST', '/api/v1/chats', { token: spammer.accessToken, body: { type: 'group', title, memberIds: [target.user.id] } });
    const first = await create('one');
    expect(first.status).toBe(201);
    // Adding someone who is in already changes nothing (200) and costs nothing.
    const again = await request('POST', `/api/v1/chats/${first.body.id}/members`, {
      token: spammer.accessToken,
      body: { userIds: [target.user.id] },
    });
    expect(again.status).toBe(200);
    expect((await create('two')).status).toBe(201);
    const add = await request('POST', `/api/v1/chats/${first.body.id}/members`, {
      token: spammer.accessToken,
      body: { userIds: [other.user.id] },
    });
    expect(add.status).toBe(201);
    const limited = await create('three');
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBe(20);
    const chats = await request('GET', '/api/v1/chats', { token: target.accessToken });
    expect(chats.body.items.map((c: { title: string }) => c.title).sort()).toEqual(['one', 'two']);
  });

  it('charges nothing for opening a direct chat that exists, nor for a request refused for its input, up to the limit of such refunds', async () => {
    const [ivy, jack, kim] = await Promise.all([signUpAndIn(request, 'Ivy'), signUpAndIn(request, 'Jack'), signUpAndIn(request, 'Kim')]);
    const open = (userId: string) => request('POST', '/api/v1/chats', { token: ivy.accessToken, body: { type: 'direct', userId } });
    const invalid = () => request('POST', '/api/v1/chats', { token: ivy.accessToken, body: { type: 'group', title: '' } });
    expect((await open(jack.user.id)).status).toBe(201);
    // Three a minute: picking Jack again (the chat page does it from every search) and invalid
    // bodies, as many as the limit, cost nothing.
    for (const answer of [await open(jack.user.id), await invalid(), await open(jack.user.id)]) expect(answer.status).not.toBe(429);
    expect((await open(kim.user.id)).status).toBe(201);
    // The refunds have a limit of their own: the next refused body is charged, and then no token is left.
    expectErrorShape(await invalid(), 400, 'VALIDATION_FAILED');
    expectErrorShape(await open(jack.user.id), 429, 'RATE_LIMITED');
  });

  it('limits the chats named in sync frames per user: an error frame with retryAfter, nothing sent', async () => {
    const hank = await signUpAndIn(request, 'Hank');
    const hankWs = await connect(hank);
    const chats = (n: number) => Object.fromEntries(Array.from({ length: n }, () => [randomUUID(), 0]));
    hankWs.send({ type: 'sync', chats: chats(3) }); // chats Hank is not in: an error frame each, then synced
    expect(await hankWs.nextOfType('synced')).toMatchObject({ chats: {} });
    // 5 a minute: two left, and this frame names three.
    expect(await hankWs.request({ type: 'sync', chats: chats(3) })).toMatchObject({
      type: 'error',
      code: 'RATE_LIMITED',
      retryAfter: 12,
    });
    expect(hankWs.isOpen).toBe(true);
  });

  it('limits read pointer moves per user across REST and WebSocket: 429 or an error frame, the pointer left where it was', async () => {
    const [lena, mo] = await Promise.all([signUpAndIn(request, 'Lena'), signUpAndIn(request, 'Mo')]);
    const chat = (await request('POST', '/api/v1/chats', { token: mo.accessToken, body: { type: 'direct', userId: lena.user.id } })).body;
    for (const text of ['one', 'two', 'three', 'four']) expect((await send(mo, chat.id, text)).status).toBe(201);
    const lenaWs = await connect(lena);
    const moWs = await connect(mo);
    const read = (seq: number) => request('POST', `/api/v1/chats/${chat.id}/read`, { token: lena.accessToken, body: { seq } });
    const pointer = async () =>
      (await request('GET', `/api/v1/chats/${chat.id}`, { token: lena.accessToken })).body.members.find(
        (m: { userId: string }) => m.userId === lena.user.id,
      ).lastReadSeq;

    // Three tokens: two over REST, one over the WebSocket (Mo hears of each move).
    expect((await read(1)).status).toBe(204);
    lenaWs.send({ type: 'mark_read', chatId: chat.id, seq: 2 });
    expect(await moWs.next((f) => f.type === 'read' && f.seq === 2)).toMatchObject({ userId: lena.user.id });
    expect((await read(3)).status).toBe(204);
    await moWs.next((f) => f.type === 'read' && f.seq === 3);

    const limited = await read(4);
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(limited.body.message).toMatch(/^Too many read pointer moves/);
    // 3 per minute: a token comes back every 20 s.
    expect(Number(limited.headers.get('retry-after'))).toBe(20);
    expect(await lenaWs.request({ type: 'mark_read', chatId: chat.id, seq: 4 })).toMatchObject({
      type: 'error',
      statusCode: 429,
      code: 'RATE_LIMITED',
      retryAfter: 20,
    });
    expect(lenaWs.isOpen).toBe(true);
    expect(await pointer()).toBe(3);
    expect(moWs.seen('read').map((f: { seq: number }) => f.seq)).toEqual([1, 2, 3]);
    // Mo has his own budget.
    expect((await request('POST', `/api/v1/chats/${chat.id}/read`, { token: mo.accessToken, body: { seq: 4 } })).status).toBe(204);
  });

  it('limits user searches per user', async () => {
    const [carol, dave] = await Promise.all([signUpAndIn(request, 'Carol'), signUpAndIn(request, 'Dave')]);
    const search = (who: SignedIn) => request('GET', '/api/v1/users?query=Car', { token: who.accessToken });
    expect([(await search(carol)).status, (await search(carol)).status]).toEqual([200, 200]);
    const limited = await search(carol);
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBe(30);
    expect((await search(dave)).status).toBe(200);
  });

  it('limits avatar uploads per user, refusing before the upload is stored', async () => {
    const erin = await signUpAndIn(request, 'Erin');
    const upload = (bytes: Buffer, type: string) => {
      const form = new FormData();
      form.append('file', new Blob([bytes], { type }), 'avatar');
      return request('PUT', '/api/v1/users/me/avatar', { token: erin.accessToken, raw: form });
    };
    const first = await upload(IMAGES.png, MIME.png);
    expect(first.status).toBe(200);
    const limited = await upload(IMAGES.gif, MIME.gif);
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBe(60);
    expect((await request('GET', '/api/v1/users/me', { token: erin.accessToken })).body.avatarUrl).toBe(first.body.avatarUrl);
  });

  it('limits name changes per user with avatar uploads (each tells the people one has direct chats with), and takes nothing for the same name', async () => {
    const fred = await signUpAndIn(request, 'Fred');
    const rename = (name: string) => request('PATCH', '/api/v1/users/me', { token: fred.accessToken, body: { name } });
    expect((await rename('Fred')).status).toBe(200); // no change: no token taken
    expect((await rename('Frederick')).status).toBe(200);
    const limited = await rename('Freddie');
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(limited.body.message).toBe('Too many profile changes (avatar uploads, name changes); wait a moment.');
    expect((await request('GET', '/api/v1/users/me', { token: fred.accessToken })).body.name).toBe('Frederick');
  });
});
