import pg from 'pg';
import { DataSource } from 'typeorm';
import { UserRepository } from '../src/modules/users/user.repository.js';
import { PresenceQuery } from '../src/realtime/presence-query.js';
import { PresenceService } from '../src/realtime/presence.service.js';
import { RealtimeService } from '../src/realtime/realtime.service.js';
import { SocketRegistry } from '../src/realtime/socket-registry.js';
import { createGroup } from './support/chats.js';
import { signUpAndIn, type SignedIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { redisProxy, TEST_REDIS_URL } from './support/redis.js';
import { connectReady, eventually, openSocket, type TestSocket } from './support/ws.js';
import { DirectHandlers } from '../src/realtime/direct-handlers.js';

const ALLOWED_ORIGIN = 'https://chat.example.com';

/** A message of 60 KB (just under a frame's 64 KiB), as the store would send it, for the bounds on what a socket may hold. */
function bulkyMessage(chatId: string, seq: number, senderId: string) {
  return {
    id: crypto.randomUUID(),
    chatId,
    seq,
    senderId,
    clientId: null,
    text: 'x'.repeat(60_000),
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
  };
}

describe('realtime (one instance)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp({ ...db.env, CORS_ORIGINS: ALLOWED_ORIGIN });
    request = httpClient(app.url);
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it("calls every frame type of the contract directly, not through Nest's per-frame pipeline (which a Nest upgrade could bring back)", () => {
    const direct = app.app.get(DirectHandlers);
    expect(['send_message', 'typing', 'mark_read', 'sync', 'ping'].filter((type) => !direct.get(type))).toEqual([]);
  });

  const track = (socket: TestSocket) => (sockets.push(socket), socket);
  const open = async (options?: Parameters<typeof openSocket>[1]) => track(await openSocket(app.wsUrl, options));
  const ready = async (token: string) => track(await connectReady(app.wsUrl, token));
  const sessionsOf = async (account: SignedIn) =>
    (await request('GET', '/api/v1/auth/sessions', { token: account.accessToken })).body as { id: string; current: boolean }[];
  const currentSessionId = async (account: SignedIn) => (await sessionsOf(account)).find((s) => s.current)!.id;
  const signInAgain = async (account: SignedIn): Promise<SignedIn> => {
    const result = await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
    return { ...result.body, password: account.password };
  };

  describe('authentication', () => {
    it('accepts a bearer token and says ready with the user and session', async () => {
      const account = await signUpAndIn(request);
      const socket = await open({ token: account.accessToken });
      expect(await socket.nextOfType('ready')).toEqual({
        type: 'ready',
        userId: account.user.id,
        sessionId: await currentSessionId(account),
      });
    });

    it('accepts the access_token cookie from the server’s own origin', async () => {
      const account = await signUpAndIn(request);
      const socket = await open({ cookie: `access_token=${account.accessToken}`, origin: app.url });
      expect(await socket.nextOfType('ready')).toMatchObject({ userId: account.user.id });
    });

    it('accepts the cookie from an origin listed in CORS_ORIGINS', async () => {
      const account = await signUpAndIn(request);
      const socket = await open({ cookie: `access_token=${account.accessToken}`, origin: ALLOWED_ORIGIN });
      expect(await socket.nextOfType('ready')).toMatchObject({ userId: account.user.id });
    });

    it.each([
      ['a foreign origin', 'https://evil.example.net'],
      ['no origin', undefined],
    ])('closes with 4403 a cookie-authenticated socket from %s', async (_label, origin) => {
      const account = await signUpAndIn(request);
      const socket = await open({ cookie: `access_token=${account.accessToken}`, origin });
      expect(await socket.closed).toEqual({ code: 4403, reason: 'ORIGIN_NOT_ALLOWED' });
      expect(socket.received).toEqual([]);
    });

    it('leaves the cookie alone on /ws?auth=frame: the first frame says who the socket is', async () => {
      const [cookieOwner, tabUser] = [await signUpAndIn(request), await signUpAndIn(request)];
      const socket = track(
        await openSocket(`${app.wsUrl}?auth=frame`, { cookie: `access_token=${cookieOwner.accessToken}`, origin: app.url }),
      );
      const ready = await socket.request({ type: 'auth', token: tabUser.accessToken }, 'a1');
      expect(ready).toMatchObject({ type: 'ready', userId: tabUser.user.id, id: 'a1' });
      expect(socket.history.filter((f) => f.type === 'ready')).toHaveLength(1);
    });

    it('authenticates by a first auth frame and echoes its id on ready', async () => {
      const account = await signUpAndIn(request);
      const socket = await open();
      socket.send({ type: 'auth', token: account.accessToken, id: 'a1' });
      expect(await socket.nextOfType('ready')).toEqual({
        type: 'ready',
        userId: account.user.id,
        sessionId: await currentSessionId(account),
        id: 'a1',
      });
    });

    it('closes with 4401 a socket that does not authenticate within 5 seconds', async () => {
      const socket = await open();
      expect(await socket.closed).toEqual({ code: 4401, reason: 'AUTH_TIMEOUT' });
    });

    it.each([
      ['a bearer header', (token: string) => open({ token })],
      [
        'an auth frame',
        async (token: string) => {
          const socket = await open();
          socket.send({ type: 'auth', token });
          return socket;
        },
      ],
    ])('closes with 4401 when %s carries an invalid token', async (_label, connect) => {
      const account = await signUpAndIn(request);
      const socket = await connect(account.accessToken.slice(0, -4) + 'AAAA');
      expect(await socket.closed).toEqual({ code: 4401, reason: 'TOKEN_INVALID' });
    });

    it('answers frames sent before authentication with UNAUTHENTICATED and keeps the socket open', async () => {
      const account = await signUpAndIn(request);
      const socket = await open();
      expect(await socket.request({ type: 'ping' }, 'early')).toEqual(
        expect.objectContaining({ type: 'error', code: 'UNAUTHENTICATED', statusCode: 401, id: 'early' }),
      );
      socket.send({ type: 'auth', token: account.accessToken });
      await socket.nextOfType('ready');
      expect(await socket.request({ type: 'ping' }, 'later')).toEqual({ type: 'pong', id: 'later' });
    });

    it('holds frames sent right after connecting until the handshake token is checked', async () => {
      const account = await signUpAndIn(request);
      const socket = await open({ token: account.accessToken });
      socket.send({ type: 'ping', id: 1 });
      expect(await socket.next()).toMatchObject({ type: 'ready' });
      expect(await socket.next()).toEqual({ type: 'pong', id: 1 });
    });

    it('refuses an auth frame for another session on an authenticated socket', async () => {
      const account = await signUpAndIn(request);
      const other = await signInAgain(account);
      const socket = await ready(account.accessToken);
      expect(await socket.request({ type: 'auth', token: other.accessToken }, 'x')).toMatchObject({
        type: 'error',
        code: 'REAUTH_MISMATCH',
        statusCode: 403,
        id: 'x',
      });
      expect(socket.isOpen).toBe(true);
    });

    it("closes a socket at once when an auth frame's token shows its own session ended, a revocation this instance missed", async () => {
      // Heartbeats far apart: their check of the sessions must not be what closes it.
      const quiet = await startTestApp(db.env, { realtime: { heartbeatMs: 600_000 } });
      try {
        const account = await signUpAndIn(httpClient(quiet.url));
        const other = await signInAgain(account);
        const socket = track(await connectReady(quiet.wsUrl, account.accessToken));
        // Revoked behind the server's back: no close through fan-out, as when Redis lost the message.
        const revokeQuietly = (token: string) =>
          quiet.app
            .get(DataSource)
            .query(`UPDATE sessions SET revoked_at = now() WHERE id = $1`, [
              JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid,
            ]);
        await revokeQuietly(other.accessToken);
        // Another session's: refused, and this socket's own session is live, so it stays.
        expect(await socket.request({ type: 'auth', token: other.accessToken }, 'a')).toMatchObject({ code: 'SESSION_REVOKED', id: 'a' });
        expect(await socket.request({ type: 'ping' }, 'p')).toEqual({ type: 'pong', id: 'p' });
        await revokeQuietly(account.accessToken);
        expect(await socket.request({ type: 'auth', token: account.accessToken }, 'b')).toMatchObject({ code: 'SESSION_REVOKED', id: 'b' });
        const later = new Promise((resolve) => setTimeout(() => resolve('still open after 3 s'), 3_000).unref());
        expect(await Promise.race([socket.closed, later])).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
      } finally {
        await quiet.close();
      }
    });

    it('takes a fresh token of the same session on an authenticated socket', async () => {
      const account = await signUpAndIn(request);
      const socket = await ready(account.accessToken);
      const refreshed = await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
      expect(await socket.request({ type: 'auth', token: refreshed.body.accessToken }, 'r')).toMatchObject({ type: 'ready', id: 'r' });
    });
  });

  describe('frames', () => {
    let socket: TestSocket;
    beforeEach(async () => {
      socket = await ready((await signUpAndIn(request)).accessToken);
    });

    it('answers ping with pong, echoing a string or numeric id', async () => {
      expect(await socket.request({ type: 'ping' }, 'p-1')).toEqual({ type: 'pong', id: 'p-1' });
      expect(await socket.request({ type: 'ping' }, 42)).toEqual({ type: 'pong', id: 42 });
      socket.send({ type: 'ping' });
      expect(await socket.nextOfType('pong')).toEqual({ type: 'pong' });
    });

    it('answers a frame that is not JSON with MALFORMED_JSON and stays open', async () => {
      socket.send('{"type": "ping"');
      expect(await socket.nextOfType('error')).toEqual({
        type: 'error',
        statusCode: 400,
        error: 'Bad Request',
        code: 'MALFORMED_JSON',
        message: expect.any(String),
      });
      expect(await socket.request({ type: 'ping' }, 'after')).toEqual({ type: 'pong', id: 'after' });
    });

    it.each([
      ['an array', '[1,2]'],
      ['an object without a type', '{"id":"n1"}'],
      ['a numeric type', '{"type":5,"id":"n1"}'],
    ])('answers %s with INVALID_FRAME', async (_label, raw) => {
      socket.send(raw);
      expect(await socket.nextOfType('error')).toMatchObject({ code: 'INVALID_FRAME', statusCode: 400 });
      expect(socket.isOpen).toBe(true);
    });

    it('answers a binary frame with INVALID_FRAME', async () => {
      socket.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
      expect(await socket.nextOfType('error')).toMatchObject({ code: 'INVALID_FRAME' });
    });

    it('answers an unknown type with UNKNOWN_FRAME_TYPE under the frame id and stays open', async () => {
      expect(await socket.request({ type: 'launch_rockets' }, 'u1')).toEqual({
        type: 'error',
        statusCode: 400,
        error: 'Bad Request',
        code: 'UNKNOWN_FRAME_TYPE',
        message: 'Unknown frame type "launch_rockets".',
        details: [{ field: 'type', message: '"launch_rockets" is not a frame type' }],
        id: 'u1',
      });
      // A type no frame type looks like is unknown too, not a frame without a type.
      expect(await socket.request({ type: 'PING' }, 'u2')).toMatchObject({
        code: 'UNKNOWN_FRAME_TYPE',
        message: 'Unknown frame type "PING".',
        id: 'u2',
      });
      expect(await socket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    it('validates a frame with the REST rules: VALIDATION_FAILED with details, unknown fields refused', async () => {
      const missing = await socket.request({ type: 'auth' }, 'v1');
      expect(missing).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', statusCode: 400, id: 'v1' });
      expect(missing.details.map((d: { field: string }) => d.field)).toContain('token');
      const extra = await socket.request({ type: 'auth', token: 'x', admin: true }, 'v2');
      expect(extra).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field: 'admin' })] });
      const extraOnPing = await socket.request({ type: 'ping', extra: 1 }, 'v3');
      expect(extraOnPing).toMatchObject({
        code: 'VALIDATION_FAILED',
        id: 'v3',
        details: [{ field: 'extra', message: 'property extra should not exist' }],
      });
      expect(socket.isOpen).toBe(true);
    });

    it('answers a frame of thousands of field names with VALIDATION_FAILED before validating it, and stays open', async () => {
      const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));
      const flat = await socket.request({ type: 'typing', chatId: crypto.randomUUID(), isTyping: true, ...fields(5000) }, 'k1');
      expect(flat).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', id: 'k1', details: [{ field: 'body' }] });
      expect(flat.message).toMatch(/more than 1000 field names/);
      const ping = await socket.request({ type: 'ping', ...fields(300) }, 'k2');
      expect(ping).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', id: 'k2' });
      expect(ping.details).toHaveLength(20);
      expect(ping.message).toMatch(/; and 280 more$/);
      // A sync of 500 chats, the most a frame may name, is still read (and refused for chats not the user's).
      const chats = Object.fromEntries(Array.from({ length: 500 }, () => [crypto.randomUUID(), 0]));
      const sync = await socket.request({ type: 'sync', chats }, 'k3');
      expect(sync.code).not.toBe('VALIDATION_FAILED');
      expect(socket.isOpen).toBe(true);
    });

    it('answers a frame nested thousands deep with VALIDATION_FAILED, not a 500, and stays open', async () => {
      const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
      socket.ws.send(`{"type":"ping","id":"d1","x":${deep(20_000)}}`);
      expect(await socket.next((f) => f.id === 'd1')).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', statusCode: 400 });
      socket.ws.send(`{"type":"mark_read","id":"d2","chatId":${deep(5_000)},"seq":1}`);
      expect(await socket.next((f) => f.id === 'd2')).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', statusCode: 400 });
      expect(socket.isOpen).toBe(true);
    });

    it('refuses __proto__ and constructor keys rather than letting them vanish before validation', async () => {
      for (const [i, chats] of ['{"__proto__":5}', '{"constructor":1}'].entries()) {
        socket.ws.send(`{"type":"sync","id":"p${i}","chats":${chats}}`);
        expect(await socket.next((f) => f.id === `p${i}`)).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      }
    });

    it('closes with 1009 a frame over 64 KiB', async () => {
      socket.send({ type: 'ping', padding: 'x'.repeat(64 * 1024) });
      expect((await socket.closed).code).toBe(1009);
    });

    it('accepts a frame just under 64 KiB', async () => {
      const padding = 'x'.repeat(64 * 1024 - 100);
      expect(await socket.request({ type: 'auth', token: padding }, 'big')).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    });
  });

  describe('revocation', () => {
    it('closes the revoked session’s sockets with 4401 and leaves the user’s other sessions open', async () => {
      const phone = await signUpAndIn(request);
      const laptop = await signInAgain(phone);
      const phoneSockets = [await ready(phone.accessToken), await ready(phone.accessToken)];
      const laptopSocket = await ready(laptop.accessToken);

      const revoke = await request('DELETE', `/api/v1/auth/sessions/${await currentSessionId(phone)}`, { token: laptop.accessToken });
      expect(revoke.status).toBe(204);
      for (const socket of phoneSockets) expect(await socket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
      expect(await laptopSocket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    it('closes the socket of a session that signs out', async () => {
      const account = await signUpAndIn(request);
      const socket = await ready(account.accessToken);
      expect((await request('POST', '/api/v1/auth/sign-out', { token: account.accessToken })).status).toBe(204);
      expect(await socket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    });

    it('refuses a revoked session’s token at connect', async () => {
      const account = await signUpAndIn(request);
      await request('POST', '/api/v1/auth/sign-out', { token: account.accessToken });
      const socket = await open({ token: account.accessToken });
      expect(await socket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    });
  });

  describe('sending', () => {
    it('delivers RealtimeService.send to every device of the addressed users and to no one else', async () => {
      const alice = await signUpAndIn(request, 'Alice');
      const aliceLaptop = await signInAgain(alice);
      const bob = await signUpAndIn(request, 'Bob');
      const carol = await signUpAndIn(request, 'Carol');
      const [a1, a2, b1, c1] = [
        await ready(alice.accessToken),
        await ready(aliceLaptop.accessToken),
        await ready(bob.accessToken),
        await ready(carol.accessToken),
      ];
      const event = { type: 'typing', chatId: crypto.randomUUID(), userId: carol.user.id, isTyping: true } as const;
      await app.app.get(RealtimeService).send([alice.user.id, bob.user.id], event);
      for (const socket of [a1, a2, b1]) expect(await socket.nextOfType('typing')).toEqual(event);
      await c1.request({ type: 'ping' });
      expect(c1.received.filter((f) => f.type === 'typing')).toEqual([]);
    });

    it('leaves out the excepted connection and reaches only the named sessions', async () => {
      const alice = await signUpAndIn(request);
      const laptop = await signInAgain(alice);
      const [phone1, phone2, laptop1] = [await ready(alice.accessToken), await ready(alice.accessToken), await ready(laptop.accessToken)];
      const realtime = app.app.get(RealtimeService);
      const event = { type: 'chat_deleted', chatId: crypto.randomUUID() } as const;
      await realtime.send([alice.user.id], event, { sessionIds: [await currentSessionId(laptop)] });
      expect(await laptop1.nextOfType('chat_deleted')).toEqual(event);
      await phone1.request({ type: 'ping' });
      await phone2.request({ type: 'ping' });
      expect([...phone1.received, ...phone2.received].filter((f) => f.type === 'chat_deleted')).toEqual([]);

      // The server's two connections of the phone session; which one is phone1 does not matter.
      const phoneConnections = app.app.get(SocketRegistry).select({ sessionIds: [await currentSessionId(alice)] });
      expect(phoneConnections).toHaveLength(2);
      const second = { type: 'chat_deleted', chatId: crypto.randomUUID() } as const;
      await realtime.send([alice.user.id], second, { exceptConnectionId: phoneConnections[0].id });
      expect(await laptop1.nextOfType('chat_deleted')).toEqual(second);
      await phone1.request({ type: 'ping' });
      await phone2.request({ type: 'ping' });
      expect([...phone1.received, ...phone2.received]).toEqual([second]);
    });
  });

  describe('presence', () => {
    it('is online while a socket is open and offline after the last one closes, stamping last_seen_at', async () => {
      const viewer = await signUpAndIn(request);
      const account = await signUpAndIn(request);
      const presence = app.app.get(PresenceQuery);
      const profile = async () => (await request('GET', `/api/v1/users/${account.user.id}`, { token: viewer.accessToken })).body;

      expect(await presence.onlineAmong([account.user.id])).toEqual(new Set());
      expect(await profile()).toMatchObject({ online: false, lastSeenAt: null });

      const first = await ready(account.accessToken);
      const second = await ready(account.accessToken);
      expect(await presence.onlineAmong([account.user.id, viewer.user.id])).toEqual(new Set([account.user.id]));
      // Seen when it came online, as the presence frame said.
      expect(await profile()).toMatchObject({ online: true, lastSeenAt: expect.any(String) });

      await first.close();
      // Only once the server has dealt with the close can "still online" mean anything.
      await eventually(() => app.app.get(SocketRegistry).countFor(account.user.id) === 1);
      await app.app.get(PresenceService).drain(5_000);
      expect(await presence.onlineAmong([account.user.id])).toEqual(new Set([account.user.id]));
      const cameOnline = (await profile()).lastSeenAt as string;
      const before = Date.now();
      await second.close();
      // Going offline stamps the moment it happened, after the close was asked for.
      await eventually(async () => (await profile()).lastSeenAt !== cameOnline);
      const seen = await profile();
      expect(seen.online).toBe(false);
      expect(new Date(seen.lastSeenAt).getTime()).toBeGreaterThanOrEqual(before);
      expect(await presence.onlineAmong([account.user.id])).toEqual(new Set());

      const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await client.connect();
      const { rows } = await client.query('SELECT last_seen_at FROM users WHERE id = $1', [account.user.id]);
      await client.end();
      expect(rows[0].last_seen_at).toBeInstanceOf(Date);

      // A stamp that lands late (another instance's, of an earlier moment) never moves it back.
      await app.app.get(UserRepository).stampLastSeen(account.user.id, new Date(Date.parse(seen.lastSeenAt) - 60_000));
      expect((await profile()).lastSeenAt).toBe(seen.lastSeenAt);
    });
  });

  describe('token expiry', () => {
    it('closes a socket with 4401 when its access token expires', async () => {
      const shortLived = await startTestApp({ ...db.env, ACCESS_TOKEN_TTL: '2s' });
      try {
        const account = await signUpAndIn(httpClient(shortLived.url));
        const socket = await connectReady(shortLived.wsUrl, account.accessToken);
        expect(await socket.closed).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED' });
      } finally {
        await shortLived.close();
      }
    });
  });

  describe('slow consumers', () => {
    it('closes with 1008 TOO_MANY_CONNECTIONS a 33rd socket of one user, and takes one again when another closes', async () => {
      const many = await signUpAndIn(request, 'Many');
      const open32 = await Promise.all(Array.from({ length: 32 }, () => ready(many.accessToken)));
      const extra = track(await openSocket(app.wsUrl, { token: many.accessToken }));
      expect(await extra.closed).toEqual({ code: 1008, reason: 'TOO_MANY_CONNECTIONS' });
      expect(await open32[31].request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      await open32[0].close();
      await eventually(() => app.app.get(SocketRegistry).countFor(many.user.id) === 31);
      expect(await (await ready(many.accessToken)).request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    it('closes with 1013 a socket whose client stops reading, instead of buffering without bound', async () => {
      const account = await signUpAndIn(request);
      const socket = await ready(account.accessToken);
      (socket.ws as any)._socket.pause();
      const realtime = app.app.get(RealtimeService);
      const message = bulkyMessage(crypto.randomUUID(), 1, account.user.id);
      // Enough to fill the kernel's buffers and then the 1 MiB bound, many times over.
      for (let i = 0; i < 1000; i++) await realtime.send([account.user.id], { type: 'new_message', message });
      (socket.ws as any)._socket.resume();
      expect(await socket.closed).toEqual({ code: 1013, reason: 'SLOW_CONSUMER' });
      expect(socket.received.length).toBeLessThan(1000);
    });
  });

  describe('shutdown', () => {
    it('closes every socket with 1012 when the app closes', async () => {
      const other = await startTestApp(db.env);
      const account = await signUpAndIn(httpClient(other.url));
      const socket = await connectReady(other.wsUrl, account.accessToken);
      const pending = await openSocket(other.wsUrl);
      await other.close();
      expect(await socket.closed).toEqual({ code: 1012, reason: 'SERVER_RESTARTING' });
      expect((await pending.closed).code).toBe(1012);
    });

    it('stamps last_seen_at at shutdown for users whose clients never answer the close (a dead mobile network)', async () => {
      // With Redis, whose presence keys make each offline update take longer than the drop itself.
      const other = await startTestApp({ ...db.env, REDIS_URL: TEST_REDIS_URL });
      const accounts = await Promise.all(Array.from({ length: 8 }, () => signUpAndIn(httpClient(other.url))));
      const deaf = await Promise.all(accounts.map((account) => connectReady(other.wsUrl, account.accessToken)));
      for (const socket of deaf) (socket.ws as any)._socket.pause(); // reads nothing more: the close handshake goes unanswered
      // Coming online stamped last_seen_at already: once that is done, only a stamp at shutdown is later than this.
      await other.app.get(PresenceService).drain(5_000);
      const closing = new Date();
      try {
        await other.close(); // after 3 s the server stops waiting and drops the sockets
      } finally {
        for (const socket of deaf) socket.ws.terminate();
      }
      const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT id, last_seen_at FROM users WHERE id = ANY($1)', [accounts.map((a) => a.user.id)]);
        expect(rows).toHaveLength(accounts.length);
        // Not stamped at shutdown: listed with the stamp they kept.
        expect(rows.filter((r) => !(r.last_seen_at instanceof Date && r.last_seen_at >= closing))).toEqual([]);
      } finally {
        await client.end();
      }
    });
  });
});

describe('realtime when a member leaves and comes back', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  let wsUrl: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    // A reordering wait and a first hold far longer than the test: a message held for a gap would
    // never arrive in time, and frames stay held until the socket's sync.
    app = await startTestApp(db.env, { realtime: { reorderWaitMs: 60_000, catchUpHoldMs: 60_000 } });
    request = httpClient(app.url);
    wsUrl = app.wsUrl;
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await app?.close();
    await db?.dispose();
  });

  it('closes with 1013 a socket that keeps too much back before its catch-up, instead of holding live messages without bound', async () => {
    const account = await signUpAndIn(request, 'Hoarder');
    const socket = await connectReady(wsUrl, account.accessToken); // never syncs: live messages are held for it
    sockets.push(socket);
    const realtime = app.app.get(RealtimeService);
    const chatId = crypto.randomUUID();
    // 160 × 60 KB: past the 8 MiB a connection may keep back.
    for (let seq = 1; seq <= 160; seq++) {
      await realtime.send(
        [account.user.id],
        { type: 'new_message', message: bulkyMessage(chatId, seq, account.user.id) },
        { stream: { id: chatId, seq } },
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([socket.closed, new Promise((resolve) => (timer = setTimeout(() => resolve('still open'), 5_000)))]);
    clearTimeout(timer);
    expect(closed).toEqual({ code: 1013, reason: 'SLOW_CONSUMER' });
    expect(socket.received.filter((f) => f.type === 'new_message')).toEqual([]);
  });

  it("gets the chat's next message at once after being added back, though messages went by meanwhile", async () => {
    const [owner, bob] = [await signUpAndIn(request, 'Owner'), await signUpAndIn(request, 'Bob')];
    const group = { id: await createGroup(request, owner, [bob]) };
    const bobWs = await connectReady(wsUrl, bob.accessToken);
    sockets.push(bobWs);
    await bobWs.request({ type: 'sync', chats: {} });
    const send = (text: string) => request('POST', `/api/v1/chats/${group.id}/messages`, { token: owner.accessToken, body: { text } });

    await send('before');
    expect((await bobWs.nextOfType('new_message')).message.seq).toBe(1);
    await request('DELETE', `/api/v1/chats/${group.id}/members/${bob.user.id}`, { token: owner.accessToken });
    expect(await bobWs.nextOfType('member_removed')).toMatchObject({ chatId: group.id, userId: bob.user.id });
    for (const text of ['while away 1', 'while away 2']) await send(text);
    await request('POST', `/api/v1/chats/${group.id}/members`, { token: owner.accessToken, body: { userIds: [bob.user.id] } });
    await bobWs.nextOfType('member_added');

    await send('welcome back');
    // Seq 4 after seq 1 on this socket: no gap to wait for, since its stream ended with member_removed
    // and stands where member_added put it.
    let timer: NodeJS.Timeout | undefined;
    const back = await Promise.race([
      bobWs.nextOfType('new_message'),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('held back as if past a gap')), 10_000))),
    ]);
    clearTimeout(timer);
    expect(back.message).toMatchObject({ seq: 4, text: 'welcome back' });
  });

  it('says member_removed before the messages after a comeback, when it all happens while the socket holds its frames', async () => {
    const [owner, carl] = [await signUpAndIn(request, 'Owner'), await signUpAndIn(request, 'Carl')];
    const group = { id: await createGroup(request, owner, [carl]) };
    const send = (text: string) => request('POST', `/api/v1/chats/${group.id}/messages`, { token: owner.accessToken, body: { text } });
    // Connected and not yet synced: the socket holds the chat's frames (here until its sync).
    const carlWs = await connectReady(wsUrl, carl.accessToken);
    sockets.push(carlWs);
    await send('before');
    await request('DELETE', `/api/v1/chats/${group.id}/members/${carl.user.id}`, { token: owner.accessToken });
    await send('while away');
    await request('POST', `/api/v1/chats/${group.id}/members`, { token: owner.accessToken, body: { userIds: [carl.user.id] } });
    await send('welcome back');
    await carlWs.request({ type: 'sync', chats: {} });
    await carlWs.nextOfType('new_message');
    await carlWs.settle();
    const order = carlWs.history
      .filter((f) => f.type === 'member_removed' || f.type === 'new_message')
      .map((f) => (f.type === 'new_message' ? f.message.text : f.type));
    expect(order).toEqual(['before', 'member_removed', 'welcome back']);
  });
});

describe('realtime sockets not authenticated yet, per client address', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  const sockets: TestSocket[] = [];
  // Tests come from 127.0.0.1, a proxy TRUST_PROXY trusts by default: X-Forwarded-For names the client.
  const from = async (address: string, token?: string) => {
    const socket = await openSocket(app.wsUrl, { headers: { 'x-forwarded-for': address }, token });
    sockets.push(socket);
    return socket;
  };
  const pending = () =>
    app.app
      .get(SocketRegistry)
      .all()
      .filter((c) => !c.isAuthenticated && c.isOpen).length;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env, { realtime: { maxPendingPerAddress: 3, authTimeoutMs: 60_000 } });
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await app?.close();
    await db?.dispose();
  });

  it('closes with 1013 TOO_MANY_PENDING a socket over the limit of its address, and takes one again once another authenticates or closes', async () => {
    const account = await signUpAndIn(request);
    const waiting = [await from('203.0.113.7'), await from('203.0.113.7'), await from('203.0.113.7')];
    const over = await from('203.0.113.7');
    expect(await over.closed).toEqual({ code: 1013, reason: 'TOO_MANY_PENDING' });
    // A socket with a token counts too until its token is checked: refused as well.
    expect(await (await from('203.0.113.7', account.accessToken)).closed).toEqual({ code: 1013, reason: 'TOO_MANY_PENDING' });
    // Another address is not held up, nor are the waiting sockets.
    const elsewhere = await from('198.51.100.20');
    elsewhere.send({ type: 'auth', token: account.accessToken });
    expect(await elsewhere.nextOfType('ready')).toMatchObject({ userId: account.user.id });
    expect(waiting.every((s) => s.isOpen)).toBe(true);

    // One authenticates: its place is free.
    waiting[0].send({ type: 'auth', token: account.accessToken });
    await waiting[0].nextOfType('ready');
    const next = await from('203.0.113.7');
    // One closes: its place is free.
    await waiting[1].close();
    await eventually(() => pending() === 2);
    const after = await from('203.0.113.7');
    after.send({ type: 'auth', token: account.accessToken });
    expect(await after.nextOfType('ready')).toMatchObject({ userId: account.user.id });
    expect([next.isOpen, waiting[2].isOpen]).toEqual([true, true]);
  });

  it('counts the IPv6 addresses of one /64 together', async () => {
    const waiting = [await from('2001:db8:1:2::1'), await from('2001:db8:1:2::2'), await from('2001:db8:1:2:ffff::3')];
    expect(await (await from('2001:db8:1:2::99')).closed).toEqual({ code: 1013, reason: 'TOO_MANY_PENDING' });
    const nextNetwork = await from('2001:db8:1:3::1');
    expect(await nextNetwork.request({ type: 'ping' })).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
    await Promise.all(waiting.map((s) => s.close()));
  });

  it('refuses nobody when sockets with tokens come one after another, however many', async () => {
    const account = await signUpAndIn(request);
    for (let i = 0; i < 10; i++) {
      const socket = await from('192.0.2.44', account.accessToken);
      expect(await socket.nextOfType('ready')).toMatchObject({ userId: account.user.id });
    }
  });
});

describe('realtime while Redis is down', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });

  afterAll(async () => {
    await db?.dispose();
  });

  it("still answers profiles, searches and chat lists, with online from this instance's own sockets", async () => {
    const redis = await redisProxy(); // to the real Redis, which the test cuts
    const app = await startTestApp({ ...db.env, REDIS_URL: redis.url });
    const socket: TestSocket[] = [];
    try {
      const request = httpClient(app.url);
      const [here, away, viewer] = [await signUpAndIn(request, 'Here'), await signUpAndIn(request, 'Away'), await signUpAndIn(request)];
      const direct = await request('POST', '/api/v1/chats', { token: viewer.accessToken, body: { type: 'direct', userId: here.user.id } });
      socket.push(await connectReady(app.wsUrl, here.accessToken));
      const profile = async (who: SignedIn) => request('GET', `/api/v1/users/${who.user.id}`, { token: viewer.accessToken });
      await eventually(async () => (await profile(here)).body.online === true);

      await redis.cut();
      const answers = {
        here: await profile(here),
        away: await profile(away),
        search: await request('GET', '/api/v1/users?query=Here', { token: viewer.accessToken }),
        chats: await request('GET', '/api/v1/chats', { token: viewer.accessToken }),
        chat: await request('GET', `/api/v1/chats/${direct.body.id}`, { token: viewer.accessToken }),
      };

      expect(Object.fromEntries(Object.entries(answers).map(([name, answer]) => [name, answer.status]))).toEqual({
        here: 200,
        away: 200,
        search: 200,
        chats: 200,
        chat: 200,
      });
      expect([answers.here.body.online, answers.away.body.online]).toEqual([true, false]);
      expect(answers.search.body.items).toEqual([expect.objectContaining({ id: here.user.id, online: true })]);
      expect(answers.chats.body.items[0].peer).toMatchObject({ id: here.user.id, online: true });
      expect(answers.chat.body.peer).toMatchObject({ id: here.user.id, online: true });
    } finally {
      await Promise.all(socket.map((s) => s.close()));
      await app.close();
      await redis.cut();
    }
  });
});
