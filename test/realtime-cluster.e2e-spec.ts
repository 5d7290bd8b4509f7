import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { FanOut } from '../src/realtime/fan-out.js';
import { PresenceQuery } from '../src/realtime/presence-query.js';
import { PresenceService } from '../src/realtime/presence.service.js';
import { SocketRegistry } from '../src/realtime/socket-registry.js';
import { RealtimeService } from '../src/realtime/realtime.service.js';
import { createGroup } from './support/chats.js';
import { signUpAndIn, type SignedIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis.js';
import { connectReady, eventually, pause, type TestSocket } from './support/ws.js';

describe('realtime across two instances (shared PostgreSQL and Redis)', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let requestA: ReturnType<typeof httpClient>;
  const sockets: TestSocket[] = [];
  /** The two instances are one deployment: one prefix, their own. */
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    a = await startTestApp({ ...db.env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix });
    b = await startTestApp({ ...db.env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix });
    requestA = httpClient(a.url);
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await deleteRedisKeys(prefix);
    await db?.dispose();
  });

  const on = async (app: TestApp, token: string) => {
    const socket = await connectReady(app.wsUrl, token);
    sockets.push(socket);
    return socket;
  };
  const signInAgain = async (account: SignedIn): Promise<SignedIn> => {
    const result = await requestA('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
    return { ...result.body, password: account.password };
  };
  const currentSessionId = async (account: SignedIn) =>
    ((await requestA('GET', '/api/v1/auth/sessions', { token: account.accessToken })).body as { id: string; current: boolean }[]).find(
      (s) => s.current,
    )!.id;

  /** A group chat created by `owner` with `members`, through instance A. */
  const groupOf = (owner: SignedIn, members: SignedIn[]): Promise<string> => createGroup(requestA, owner, members);
  /** A socket on `app` past the hold every new connection starts with. */
  const flowing = async (app: TestApp, who: SignedIn): Promise<TestSocket> => {
    const socket = await on(app, who.accessToken);
    await socket.request({ type: 'sync', chats: {} });
    return socket;
  };
  const sendOn = (socket: TestSocket, chatId: string, text: string) =>
    socket.request({ type: 'send_message', chatId, text, clientId: crypto.randomUUID() });
  /**
   * Replaces how instance B takes what crosses Redis (`receive(payload)`, with the original as
   * `pass`) until the returned function restores it.
   */
  const interceptRedisOnB = (intercept: (payload: string, pass: (payload: string) => void) => void): (() => void) => {
    const fanOut = b.app.get(FanOut) as unknown as { receive(payload: string): void };
    const pass = fanOut.receive.bind(fanOut);
    const spy = jest.spyOn(fanOut, 'receive').mockImplementation((payload) => intercept(payload, pass));
    return () => spy.mockRestore();
  };
  /** Holds what crosses Redis to B (in `held`) until `stop`; `release` then hands it to B, in order. */
  const holdRedisOnB = () => {
    const held: string[] = [];
    let pass: ((payload: string) => void) | undefined;
    const stop = interceptRedisOnB((payload, through) => {
      pass = through;
      held.push(payload);
    });
    return { held, stop, release: () => held.splice(0).forEach((payload) => pass!(payload)) };
  };
  const slowRedisOnB = (ms: number) => interceptRedisOnB((payload, pass) => void setTimeout(() => pass(payload), ms));
  /** Instance A publishes nothing whose frame contains `marker` (as if it died between commit and publish) until restored. */
  const losePublicationsOnA = (marker: string): (() => void) => {
    const fanOutA = a.app.get(FanOut);
    const publish = fanOutA.publish.bind(fanOutA);
    const spy = jest.spyOn(fanOutA, 'publish').mockImplementation(async (message) => {
      if (!(message.kind === 'deliver' && message.frame.includes(marker))) await publish(message);
    });
    return () => spy.mockRestore();
  };
  const threePeople = async (): Promise<SignedIn[]> => [
    await signUpAndIn(requestA, 'Alice'),
    await signUpAndIn(requestA, 'Bob'),
    await signUpAndIn(requestA, 'Carol'),
  ];

  it('closes a socket on instance B when its session is revoked through instance A, and only that session’s', async () => {
    const phone = await signUpAndIn(requestA);
    const laptop = await signInAgain(phone);
    const phoneOnB = await on(b, phone.accessToken);
    const phoneOnA = await on(a, phone.accessToken);
    const laptopOnB = await on(b, laptop.accessToken);

    const revoke = await requestA('DELETE', `/api/v1/auth/sessions/${await currentSessionId(phone)}`, { token: laptop.accessToken });
    expect(revoke.status).toBe(204);
    expect(await phoneOnB.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    expect(await phoneOnA.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    expect(await laptopOnB.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('delivers RealtimeService.send on A to every device of the user on both instances, and to no one else', async () => {
    const alice = await signUpAndIn(requestA, 'Alice');
    const aliceLaptop = await signInAgain(alice);
    const bob = await signUpAndIn(requestA, 'Bob');
    const aliceOnA = await on(a, alice.accessToken);
    const aliceOnB = await on(b, alice.accessToken);
    const aliceLaptopOnB = await on(b, aliceLaptop.accessToken);
    const bobOnB = await on(b, bob.accessToken);
    const bobOnA = await on(a, bob.accessToken);

    const event = { type: 'read', chatId: crypto.randomUUID(), userId: bob.user.id, seq: 7 } as const;
    await a.app.get(RealtimeService).send([alice.user.id], event);
    for (const socket of [aliceOnA, aliceOnB, aliceLaptopOnB]) expect(await socket.nextOfType('read')).toEqual(event);

    // A frame sent after the event, on the same path, proves the event had its chance to arrive.
    const marker = { type: 'chat_deleted', chatId: crypto.randomUUID() } as const;
    await a.app.get(RealtimeService).send([bob.user.id], marker);
    for (const socket of [bobOnA, bobOnB]) {
      expect(await socket.nextOfType('chat_deleted')).toEqual(marker);
      expect(socket.received).toEqual([]);
    }
  });

  it('keeps frames intact across instances: unicode, newlines and the exact payload', async () => {
    const account = await signUpAndIn(requestA);
    const socket = await on(b, account.accessToken);
    const event = {
      type: 'chat_updated',
      chat: {
        id: crypto.randomUUID(),
        type: 'group',
        title: 'Line one\nline two — “quoted” 🎉 \\ backslash',
        memberCount: 3,
        updatedAt: new Date().toISOString(),
      },
    } as const;
    await a.app.get(RealtimeService).send([account.user.id], event);
    expect(await socket.nextOfType('chat_updated')).toEqual(event);
  });

  it('sees a user online from either instance while any socket is open, and offline after the last closes', async () => {
    const account = await signUpAndIn(requestA);
    const viewer = await signUpAndIn(requestA);
    const presenceA = a.app.get(PresenceQuery);
    const presenceB = b.app.get(PresenceQuery);
    const profileOnA = async () => (await requestA('GET', `/api/v1/users/${account.user.id}`, { token: viewer.accessToken })).body;

    const onB = await on(b, account.accessToken);
    expect(await presenceA.onlineAmong([account.user.id, viewer.user.id])).toEqual(new Set([account.user.id]));
    // Seen now: the moment it came online, as the presence frame says (stamped in the database
    // just after the socket is ready: once B has written it).
    await b.app.get(PresenceService).drain(5_000);
    expect(await profileOnA()).toMatchObject({ online: true, lastSeenAt: expect.any(String) });

    const onA = await on(a, account.accessToken);
    await onB.close();
    // Closing B's socket must not take the user offline while A still has one: checked once B has dealt with the close.
    await eventually(() => b.app.get(SocketRegistry).countFor(account.user.id) === 0);
    await b.app.get(PresenceService).drain(5_000);
    await onA.request({ type: 'ping' });
    expect(await presenceB.onlineAmong([account.user.id])).toEqual(new Set([account.user.id]));
    expect(await profileOnA()).toMatchObject({ online: true });

    const cameOnline = (await profileOnA()).lastSeenAt as string;
    await onA.close();
    // Going offline stamps a later time (online turns false a moment before the stamp lands).
    await eventually(async () => (await profileOnA()).lastSeenAt !== cameOnline);
    const offline = await profileOnA();
    expect(offline.online).toBe(false);
    expect(Date.parse(offline.lastSeenAt)).toBeGreaterThan(Date.parse(cameOnline));
    expect(await presenceA.onlineAmong([account.user.id])).toEqual(new Set());
    expect(await presenceB.onlineAmong([account.user.id])).toEqual(new Set());
  });

  /** What a Redis restart does to presence (it keeps nothing on disk), for this user's keys alone. */
  const losePresenceKeys = async (userId: string) => {
    const redis = new Redis(TEST_REDIS_URL);
    const { prefix } = a.config.redis;
    try {
      await redis.del(`${prefix}presence:user:${userId}`);
      await redis.zrem(`${prefix}presence:online`, userId);
    } finally {
      redis.disconnect();
    }
  };

  it('announces a user offline when their last socket closes, though Redis lost their presence keys meanwhile', async () => {
    const [x, y] = [await signUpAndIn(requestA), await signUpAndIn(requestA)];
    await groupOf(y, [x]); // presence goes to the people one shares a chat with
    const yOnA = await flowing(a, y);
    const xOnB = await on(b, x.accessToken);
    await yOnA.next((f) => f.type === 'presence' && f.userId === x.user.id && f.online === true);

    await losePresenceKeys(x.user.id);
    await xOnB.close();
    const offline = await yOnA.next((f) => f.type === 'presence' && f.userId === x.user.id && f.online === false);
    expect(offline.lastSeenAt).toEqual(expect.any(String));
    const profile = await requestA('GET', `/api/v1/users/${x.user.id}`, { token: y.accessToken });
    expect(profile.body).toMatchObject({ online: false, lastSeenAt: offline.lastSeenAt });
  });

  it("counts and announces a user online again at their instance's next heartbeat, after Redis lost their presence keys", async () => {
    const [x, y] = [await signUpAndIn(requestA), await signUpAndIn(requestA)];
    await groupOf(y, [x]);
    const yOnA = await flowing(a, y);
    await on(b, x.accessToken);
    await yOnA.next((f) => f.type === 'presence' && f.userId === x.user.id && f.online === true);
    await losePresenceKeys(x.user.id);
    // A sweep elsewhere could have announced them offline by now; the heartbeat puts that right.
    const profile = async () => (await requestA('GET', `/api/v1/users/${x.user.id}`, { token: y.accessToken })).body;
    expect(await profile()).toMatchObject({ online: false });
    const [connection] = b.app.get(SocketRegistry).select({ userIds: [x.user.id] });
    await b.app.get(PresenceService).heartbeat([{ userId: x.user.id, connectionId: connection.id }], false);
    await b.app.get(PresenceService).drain(5_000);
    expect(await profile()).toMatchObject({ online: true });
    const frames = () => yOnA.seen('presence').filter((f) => f.userId === x.user.id);
    await eventually(() => frames().length === 2);
    expect(frames().map((f) => f.online)).toEqual([true, true]);
    // Once counted again, the next heartbeat announces nothing.
    await b.app.get(PresenceService).heartbeat([{ userId: x.user.id, connectionId: connection.id }], false);
    await b.app.get(PresenceService).drain(5_000);
    // A frame B sends after it, on the same path through Redis, proves an announcement had its chance to arrive.
    const marker = { type: 'chat_deleted', chatId: crypto.randomUUID() } as const;
    await b.app.get(RealtimeService).send([y.user.id], marker);
    expect(await yOnA.nextOfType('chat_deleted')).toEqual(marker);
    expect(frames()).toHaveLength(2);
  });

  it("writes a chat's messages to a socket in seq order when a later one reaches its instance first", async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(alice, [bob, carol]);
    const [aliceOnA, carolOnB, bobOnB] = [await on(a, alice.accessToken), await on(b, carol.accessToken), await flowing(b, bob)];
    await sendOn(carolOnB, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    // What crosses Redis to B is slow; what B publishes itself is not.
    const restore = slowRedisOnB(120);
    try {
      expect((await sendOn(aliceOnA, chatId, 'two')).message.seq).toBe(2);
      expect((await sendOn(carolOnB, chatId, 'three')).message.seq).toBe(3);
      await eventually(() => bobOnB.seen('new_message').length === 3);
    } finally {
      restore();
    }
    expect(bobOnB.seen('new_message').map((f) => f.message.text)).toEqual(['one', 'two', 'three']);
  });

  it('reads a message from the store when it is slower across Redis than the wait, writes it in order, and not again when it comes', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(alice, [bob, carol]);
    const [aliceOnA, carolOnB, bobOnB] = [await on(a, alice.accessToken), await on(b, carol.accessToken), await flowing(b, bob)];
    await sendOn(carolOnB, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    // Far slower than the 200 ms a socket waits for a message that another overtook.
    const restore = slowRedisOnB(1_500);
    try {
      await sendOn(aliceOnA, chatId, 'two');
      await sendOn(carolOnB, chatId, 'three');
      await eventually(() => bobOnB.seen('new_message').length === 3);
      expect(bobOnB.seen('new_message').map((f) => f.message.text)).toEqual(['one', 'two', 'three']);
      await new Promise((resolve) => setTimeout(resolve, 1_700)); // the slow copy of "two" arrives
      await bobOnB.settle();
    } finally {
      restore();
    }
    expect(bobOnB.seen('new_message').map((f) => f.message.seq)).toEqual([1, 2, 3]);
  });

  it('tells a member removed while earlier messages still cross Redis last, and writes none of them after', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const [aliceOnA, bobOnB] = [await on(a, alice.accessToken), await flowing(b, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    const restore = slowRedisOnB(1_500);
    try {
      await sendOn(aliceOnA, chatId, 'two');
      // Carol, the owner, removes Bob through B while "two" is still on its way there.
      expect(
        (await httpClient(b.url)('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status,
      ).toBe(204);
      await bobOnB.nextOfType('member_removed');
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      await bobOnB.settle();
    } finally {
      restore();
    }
    const frames = bobOnB.history.filter((f) => f.type === 'new_message' || f.type === 'member_removed');
    // "two" was sent while Bob was a member; the store no longer shows it to him, and it never follows his removal.
    expect(frames.map((f) => f.type)).toEqual(['new_message', 'member_removed']);
  });

  it('publishes a message again when its send is repeated, for the sockets that never had it (its first publication died with its instance)', async () => {
    const [alice, bob] = [await signUpAndIn(requestA, 'Alice'), await signUpAndIn(requestA, 'Bob')];
    const chatId = await groupOf(alice, [bob]);
    const [aliceOnA, bobOnB, bobOnA] = [await flowing(a, alice), await flowing(b, bob), await flowing(a, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');
    await bobOnA.nextOfType('new_message');

    // A stores "two" and answers, but its publication goes nowhere: as if A died right after the commit.
    const clientId = crypto.randomUUID();
    const restore = losePublicationsOnA('"text":"two"');
    try {
      expect(await aliceOnA.request({ type: 'send_message', chatId, text: 'two', clientId })).toMatchObject({ type: 'message_ack' });
    } finally {
      restore();
    }
    // The client, unsure, sends it again (here through B): nothing new is stored...
    const again = await httpClient(b.url)('POST', `/api/v1/chats/${chatId}/messages`, {
      token: alice.accessToken,
      body: { text: 'two', clientId },
    });
    expect(again.status).toBe(200);
    // ...and every socket that missed it gets it, once.
    for (const socket of [bobOnB, bobOnA, aliceOnA]) {
      await eventually(() => socket.seen('new_message').length === 2);
      await socket.settle();
      expect(socket.seen('new_message').map((f) => f.message.text)).toEqual(['one', 'two']);
    }

    // A repeat of a send that everyone got changes nothing for anyone.
    const third = await sendOn(aliceOnA, chatId, 'three');
    await eventually(() => bobOnB.seen('new_message').length === 3);
    const repeated = await httpClient(b.url)('POST', `/api/v1/chats/${chatId}/messages`, {
      token: alice.accessToken,
      body: { text: 'three', clientId: third.clientId },
    });
    expect(repeated.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const socket of [bobOnB, bobOnA, aliceOnA]) {
      await socket.settle();
      expect(socket.seen('new_message').map((f) => f.message.seq)).toEqual([1, 2, 3]);
    }
  });

  it('after a sync that brought nothing (the client was up to date), still gets a message whose first publication was lost, when it is sent again', async () => {
    const [alice, bob] = [await signUpAndIn(requestA, 'Alice'), await signUpAndIn(requestA, 'Bob')];
    const chatId = await groupOf(alice, [bob]);
    const aliceOnA = await flowing(a, alice);
    await sendOn(aliceOnA, chatId, 'one');
    // Bob reconnects on B, already holding message 1.
    const bobOnB = await on(b, bob.accessToken);
    expect(await bobOnB.request({ type: 'sync', chats: { [chatId]: 1 } })).toMatchObject({ type: 'synced', chats: { [chatId]: 1 } });

    const clientId = crypto.randomUUID();
    const restore = losePublicationsOnA('"text":"two"');
    try {
      await aliceOnA.request({ type: 'send_message', chatId, text: 'two', clientId });
    } finally {
      restore();
    }
    await httpClient(b.url)('POST', `/api/v1/chats/${chatId}/messages`, { token: alice.accessToken, body: { text: 'two', clientId } });
    await eventually(() => bobOnB.seen('new_message').length === 1);
    await sendOn(aliceOnA, chatId, 'three');
    await eventually(() => bobOnB.seen('new_message').length === 2);
    await bobOnB.settle();
    expect(bobOnB.seen('new_message').map((f) => f.message.text)).toEqual(['two', 'three']);
  });

  it('tells a member removed and added back while earlier messages still cross Redis of the two in that order', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const [aliceOnA, bobOnB] = [await on(a, alice.accessToken), await flowing(b, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    const restore = slowRedisOnB(600);
    try {
      await sendOn(aliceOnA, chatId, 'two');
      const asCarol = httpClient(b.url);
      expect((await asCarol('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status).toBe(204);
      expect(
        (await asCarol('POST', `/api/v1/chats/${chatId}/members`, { token: carol.accessToken, body: { userIds: [bob.user.id] } })).status,
      ).toBe(201);
      await bobOnB.nextOfType('member_added');
      await new Promise((resolve) => setTimeout(resolve, 800));
      await bobOnB.settle();
    } finally {
      restore();
    }
    const aboutBob = bobOnB.history.filter((f) => (f.type === 'member_removed' || f.type === 'member_added') && f.userId === bob.user.id);
    expect(aboutBob.map((f) => f.type)).toEqual(['member_removed', 'member_added']);
    // Back in the chat, Bob may read "two" again: it came before the removal frame, or not at all, never after it.
    const types = bobOnB.history.map((f) => (f.type === 'new_message' ? f.message.text : f.type)).filter((t) => t !== 'pong');
    expect(types.indexOf('two') === -1 || types.indexOf('two') < types.indexOf('member_removed')).toBe(true);
  });

  it('leaves a member removed and added back knowing they are in, when their removal crosses Redis after the addition and a message', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const bobOnB = await flowing(b, bob);
    const carolOnB = await flowing(b, carol);
    await sendOn(carolOnB, chatId, 'one');
    await bobOnB.next((f) => f.type === 'new_message' && f.message.text === 'one');

    const { held, stop: restore, release } = holdRedisOnB();
    try {
      // Removed through A (the frames wait on the way to B), added back and written to through B.
      expect((await requestA('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status).toBe(204);
      const requestB = httpClient(b.url);
      const added = await requestB('POST', `/api/v1/chats/${chatId}/members`, {
        token: carol.accessToken,
        body: { userIds: [bob.user.id] },
      });
      expect(added.status).toBe(201);
      await sendOn(carolOnB, chatId, 'two');
      await bobOnB.next((f) => f.type === 'new_message' && f.message.text === 'two');
      await bobOnB.next((f) => f.type === 'member_added' && f.userId === bob.user.id);
      await eventually(() => held.some((payload) => payload.includes('member_removed')));
    } finally {
      restore();
    }
    release(); // the removal reaches B now, after all that
    await sendOn(carolOnB, chatId, 'three');
    await bobOnB.next((f) => f.type === 'new_message' && f.message.text === 'three');
    await bobOnB.settle();
    const aboutBob = bobOnB.history.filter((f) => (f.type === 'member_removed' || f.type === 'member_added') && f.userId === bob.user.id);
    // The removal, older than the addition, is dropped: Bob is told last that he is in, as he is.
    expect(aboutBob.map((f) => f.type)).toEqual(['member_added']);
    const texts = bobOnB.history.filter((f) => f.type === 'new_message').map((f) => f.message.text);
    expect(texts).toEqual(['one', 'two', 'three']);
  });

  it('drops typing, read and seen frames about a chat that reach a member after they were told they left', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const aliceOnA = await flowing(a, alice);
    const bobOnB = await flowing(b, bob);
    const carolOnB = await flowing(b, carol);
    const sent = await sendOn(bobOnB, chatId, 'from Bob');
    await aliceOnA.next((f) => f.type === 'new_message' && f.message.text === 'from Bob');
    carolOnB.send({ type: 'mark_read', chatId, seq: sent.message.seq });
    await carolOnB.settle();

    const { held, stop: restore, release } = holdRedisOnB();
    try {
      // Through A, held on the way to B: Alice typing, and reading Bob's message, the last to (message_seen to Bob).
      aliceOnA.send({ type: 'typing', chatId, isTyping: true });
      aliceOnA.send({ type: 'mark_read', chatId, seq: sent.message.seq });
      await aliceOnA.settle();
      await eventually(() => ['"typing"', '"read"', '"message_seen"'].every((type) => held.some((payload) => payload.includes(type))));
      // Bob is removed through B: told at once.
      const requestB = httpClient(b.url);
      expect((await requestB('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status).toBe(204);
      await bobOnB.next((f) => f.type === 'member_removed' && f.userId === bob.user.id);
    } finally {
      restore();
    }
    release(); // Alice's typing and read reach B now
    await bobOnB.request({ type: 'ping' });
    await pause(300);
    await bobOnB.settle();
    const after = bobOnB.history.slice(bobOnB.history.findIndex((f) => f.type === 'member_removed'));
    expect(after.filter((f) => ['typing', 'read', 'message_seen'].includes(f.type as string))).toEqual([]);
    // Carol, still in, got Alice's typing and read.
    await carolOnB.next((f) => f.type === 'typing' && f.userId === alice.user.id);
    await carolOnB.next((f) => f.type === 'read' && f.userId === alice.user.id);
  });

  it('leaves the other members knowing a member removed and added back is in, when the removal crosses Redis after the addition', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const [aliceOnA, aliceOnB] = [await flowing(a, alice), await flowing(b, alice)];
    await sendOn(aliceOnA, chatId, 'one');
    await aliceOnB.nextOfType('new_message');

    // What crosses Redis to B is held until the addition through B has been told there.
    const { held, stop: restore, release } = holdRedisOnB();
    try {
      // Removed through A (its frames wait on the way to B), added back through B (at once).
      expect((await requestA('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status).toBe(204);
      const added = await httpClient(b.url)('POST', `/api/v1/chats/${chatId}/members`, {
        token: carol.accessToken,
        body: { userIds: [bob.user.id] },
      });
      expect(added.status).toBe(201);
      await aliceOnB.next((f) => f.type === 'member_added' && f.userId === bob.user.id);
      await eventually(() => held.some((payload) => payload.includes('"member_removed"')));
    } finally {
      restore();
    }
    release(); // the removal reaches B now, after the addition
    await aliceOnB.request({ type: 'ping' });
    await aliceOnB.settle();
    const aboutBob = (socket: TestSocket) =>
      socket.history
        .filter((f) => (f.type === 'member_removed' || f.type === 'member_added') && f.userId === bob.user.id)
        .map((f) => f.type);
    // Bob is in: the removal, late, is dropped rather than told last.
    expect(aboutBob(aliceOnB)).toEqual(['member_added']);
    // On A the two came in order, each told.
    await eventually(() => aboutBob(aliceOnA).length === 2);
    expect(aboutBob(aliceOnA)).toEqual(['member_removed', 'member_added']);
    expect(
      (await requestA('GET', `/api/v1/chats/${chatId}`, { token: alice.accessToken })).body.members.map(
        (m: { userId: string }) => m.userId,
      ),
    ).toContain(bob.user.id);
  });

  it('leaves the members on the later title when an earlier rename crosses Redis after it, and on the latest role change', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const aliceOnB = await flowing(b, alice);
    const requestB = httpClient(b.url);

    const { held, stop: restore, release } = holdRedisOnB();
    try {
      // Renamed through A (its frame waits on the way to B), then again through B (told at once).
      const rename = (request: typeof requestA, title: string) =>
        request('PATCH', `/api/v1/chats/${chatId}`, { token: carol.accessToken, body: { title } });
      expect((await rename(requestA, 'First title')).status).toBe(200);
      expect((await rename(requestB, 'Second title')).status).toBe(200);
      await aliceOnB.next((f) => f.type === 'chat_updated' && f.chat.title === 'Second title');
      await eventually(() => held.some((payload) => payload.includes('First title')));
      // A role change through A, held too, is not older than anything told: it comes through.
      expect(
        (await requestA('PATCH', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken, body: { role: 'admin' } }))
          .status,
      ).toBe(200);
      // Both of A's chat_updated held (a payload's first line is its instance's id; B hears its own too).
      const fromA = held.find((payload) => payload.includes('First title'))!.split('\n')[0];
      await eventually(() => held.filter((payload) => payload.startsWith(`${fromA}\n`) && payload.includes('chat_updated')).length === 2);
    } finally {
      restore();
    }
    release(); // the first rename reaches B now, after the second
    await aliceOnB.request({ type: 'ping' });
    await aliceOnB.settle();
    const titles = aliceOnB.history.filter((f) => f.type === 'chat_updated').map((f) => f.chat.title);
    // The first rename, late, is dropped; the role change after both is told (with the latest title).
    expect(titles).toEqual(['Second title', 'Second title']);
    expect((await requestA('GET', `/api/v1/chats/${chatId}`, { token: alice.accessToken })).body.title).toBe('Second title');
  });

  it("writes a new chat's first messages in seq order when a later one reaches the instance first", async () => {
    const [alice, bob, carol] = await threePeople();
    const [aliceOnA, carolOnB, bobOnB] = [await on(a, alice.accessToken), await flowing(b, carol), await flowing(b, bob)];
    const chatId = await groupOf(alice, [bob, carol]);
    await bobOnB.next((f) => f.type === 'chat_created' && f.chat.id === chatId);
    await carolOnB.next((f) => f.type === 'chat_created' && f.chat.id === chatId);

    const restore = slowRedisOnB(100);
    try {
      expect((await sendOn(aliceOnA, chatId, 'first')).message.seq).toBe(1);
      expect((await sendOn(carolOnB, chatId, 'second')).message.seq).toBe(2);
      await eventually(() => bobOnB.seen('new_message').length === 2);
    } finally {
      restore();
    }
    expect(bobOnB.seen('new_message').map((f) => f.message.text)).toEqual(['first', 'second']);
  });

  it('writes the messages of a chat a member was added back to after the frame that says so, when that frame is still crossing Redis', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const [aliceOnA, bobOnB] = [await on(a, alice.accessToken), await flowing(b, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');
    // Removed through B (the frame is local to Bob's socket), added back through A (it crosses Redis).
    expect((await httpClient(b.url)('DELETE', `/api/v1/chats/${chatId}/members/${bob.user.id}`, { token: carol.accessToken })).status).toBe(
      204,
    );
    await bobOnB.nextOfType('member_removed');

    const restore = slowRedisOnB(100);
    try {
      const added = await requestA('POST', `/api/v1/chats/${chatId}/members`, {
        token: carol.accessToken,
        body: { userIds: [bob.user.id] },
      });
      expect(added.status).toBe(201);
      // Sent through B at once: it reaches Bob's socket before member_added does.
      const sent = await httpClient(b.url)('POST', `/api/v1/chats/${chatId}/messages`, {
        token: carol.accessToken,
        body: { text: 'welcome back' },
      });
      expect(sent.status).toBe(201);
      await bobOnB.next((f) => f.type === 'new_message' && f.message.text === 'welcome back');
      await bobOnB.settle();
    } finally {
      restore();
    }
    const frames = bobOnB.history
      .filter((f) => f.type === 'new_message' || ((f.type === 'member_removed' || f.type === 'member_added') && f.userId === bob.user.id))
      .map((f) => (f.type === 'new_message' ? f.message.text : f.type));
    expect(frames).toEqual(['one', 'member_removed', 'member_added', 'welcome back']);
  });

  it('writes a delete made on this instance after the message it deletes, when that message is still crossing Redis', async () => {
    const [alice, bob, carol] = await threePeople();
    const chatId = await groupOf(carol, [alice, bob]);
    const [aliceOnA, bobOnB] = [await on(a, alice.accessToken), await flowing(b, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    const restore = slowRedisOnB(120);
    try {
      const { message } = await sendOn(aliceOnA, chatId, 'regrettable');
      // Carol, the owner, deletes it through instance B at once.
      const deleted = await httpClient(b.url)('DELETE', `/api/v1/chats/${chatId}/messages/${message.id}`, { token: carol.accessToken });
      expect(deleted.status).toBe(204);
      await bobOnB.nextOfType('message_deleted');
      await bobOnB.settle();
    } finally {
      restore();
    }
    const frames = bobOnB.history.filter((f) => f.type === 'new_message' || f.type === 'message_deleted');
    expect(frames.map((f) => f.type)).toEqual(['new_message', 'new_message', 'message_deleted']);
  });

  it('closes its sockets with 1012 when an instance lost a message from another on the way, and sync then gives the client everything', async () => {
    const [alice, bob] = [await signUpAndIn(requestA, 'Alice'), await signUpAndIn(requestA, 'Bob')];
    const chatId = await groupOf(alice, [bob]);
    const [aliceOnA, bobOnB] = [await on(a, alice.accessToken), await flowing(b, bob)];
    await sendOn(aliceOnA, chatId, 'one');
    await bobOnB.nextOfType('new_message');

    // The next message from A never reaches B (as if B's subscription had a hole)...
    const restore = interceptRedisOnB((payload, pass) => {
      if (!payload.includes('"text":"two"')) pass(payload);
    });
    try {
      await sendOn(aliceOnA, chatId, 'two');
      // ...which B notices at A's next message, and its sockets are closed to catch up.
      await sendOn(aliceOnA, chatId, 'three');
      expect(await bobOnB.closed).toEqual({ code: 1012, reason: 'EVENTS_MISSED' });
    } finally {
      restore();
    }
    expect(bobOnB.seen('new_message').map((f) => f.message.text)).toEqual(['one']);

    const again = await on(b, bob.accessToken);
    expect(await again.request({ type: 'sync', chats: { [chatId]: 1 } })).toMatchObject({ type: 'synced', chats: { [chatId]: 3 } });
    expect(again.seen('new_message').map((f) => f.message.text)).toEqual(['two', 'three']);
  });
});

describe('two deployments sharing one Redis (REDIS_PREFIX)', () => {
  let db: TestDatabase;
  const apps: TestApp[] = [];
  const sockets: TestSocket[] = [];
  const run = crypto.randomUUID().slice(0, 8);
  const [blue, green] = [`parley-test-blue-${run}:`, `parley-test-green-${run}:`];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all([blue, green].map((prefix) => deleteRedisKeys(prefix)));
    await db?.dispose();
  });

  const start = async (prefix: string) => {
    const app = await startTestApp({ ...db.env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix });
    apps.push(app);
    return app;
  };

  it('keeps their events and keys apart: an instance hears only the instances under its own prefix', async () => {
    // One database for brevity: what matters is who hears whom over Redis.
    const [blueA, blueB, greenA] = [await start(blue), await start(blue), await start(green)];
    const request = httpClient(blueA.url);
    const [alice, bob] = [await signUpAndIn(request, 'Alice'), await signUpAndIn(request, 'Bob')];
    const chat = { id: await createGroup(request, alice, [bob]) };
    const socketOn = async (app: TestApp, who: SignedIn) => {
      const socket = await connectReady(app.wsUrl, who.accessToken);
      sockets.push(socket);
      await socket.request({ type: 'sync', chats: {} });
      return socket;
    };
    const [aliceOnBlueA, bobOnBlueB, bobOnGreen] = [await socketOn(blueA, alice), await socketOn(blueB, bob), await socketOn(greenA, bob)];

    const ack = await aliceOnBlueA.request({ type: 'send_message', chatId: chat.id, text: 'blue only', clientId: crypto.randomUUID() });
    expect((await bobOnBlueB.nextOfType('new_message')).message).toEqual(ack.message);
    await bobOnGreen.settle();
    expect(bobOnGreen.seen('new_message')).toEqual([]);

    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = async (prefix: string) => (await redis.keys(`${prefix}*`)).map((k) => k.slice(prefix.length).split(':')[0]);
      expect(new Set(await keys(blue))).toEqual(new Set(['presence', 'rl'])); // the sign-ups went through blue
      expect(new Set(await keys(green))).toEqual(new Set(['presence']));
      const channels = await redis.pubsub('CHANNELS', `parley-test-*-${run}:*`);
      expect(channels.sort()).toEqual([`${blue}realtime:fan-out`, `${green}realtime:fan-out`].sort());
    } finally {
      redis.disconnect();
    }
  });
});
