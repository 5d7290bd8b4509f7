import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { EventBus } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import {
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  Logger,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { map, type Observable } from 'rxjs';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { DataSource } from 'typeorm';
import { configureApp, initApp } from '../src/app.factory.js';
import { AppModule } from '../src/app.module.js';
import { ConflictError } from '../src/common/errors/domain-error.js';
import { SessionsRevokedEvent } from '../src/modules/auth/events/session-revoked.event.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { loadConfig } from '../src/config/app-config.js';
import { DirectHandlers } from '../src/realtime/direct-handlers.js';
import { PresenceAudience } from '../src/realtime/presence-audience.js';
import { CurrentSocketUser, RealtimeGateway, type SocketUser } from '../src/realtime/realtime-gateway.decorator.js';
import { RealtimeSettings } from '../src/realtime/realtime-settings.js';
import { SocketAuthenticator } from '../src/realtime/socket-authenticator.js';
import { signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { connectReady, eventually, openSocket, pause, type TestSocket } from './support/ws.js';

class EchoDto {
  @IsString()
  @MaxLength(5)
  text: string;
}

class SlowDto {
  @IsInt()
  @Min(0)
  @Max(2000)
  ms: number;
}

const calls: string[] = [];

class RefuseGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Counts the WebSocket frames it lets through. */
class CountingGuard implements CanActivate {
  count = 0;
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'ws') this.count++;
    return true;
  }
}

class MarkReply implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((reply: object) => ({ ...reply, intercepted: true })));
  }
}

/** What a feature gateway looks like: DTO bodies, the caller, return values as replies, thrown DomainErrors. */
@RealtimeGateway()
class ProbeGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() body: EchoDto, @CurrentSocketUser() user: SocketUser) {
    calls.push(`echo:${body.text}`);
    return { type: 'echoed', text: body.text, userId: user.userId, sessionId: user.sessionId, connectionId: user.connectionId };
  }

  @SubscribeMessage('slow')
  async slow(@MessageBody() body: SlowDto) {
    await pause(body.ms);
    calls.push(`slow:${body.ms}`);
    return { type: 'slowed', ms: body.ms };
  }

  @SubscribeMessage('conflict')
  conflict(): never {
    throw new ConflictError('PROBE_CONFLICT', 'That clashes with something.');
  }

  @SubscribeMessage('crash')
  crash(): never {
    throw new Error('a bug in a handler');
  }

  @SubscribeMessage('silent')
  silent(): void {
    calls.push('silent');
  }

  @SubscribeMessage('guarded')
  @UseGuards(RefuseGuard)
  guarded() {
    calls.push('guarded');
    return { type: 'passed' };
  }

  @SubscribeMessage('intercepted')
  @UseInterceptors(MarkReply)
  intercepted(@MessageBody() body: EchoDto) {
    return { type: 'echoed', text: body.text };
  }

  @SubscribeMessage('field')
  field(@MessageBody('text') text: unknown) {
    return { type: 'field', text };
  }

  /** No decorated parameter: Nest's defaults apply (the socket, the body, an ack that a frame never has). */
  @SubscribeMessage('raw')
  raw(...args: unknown[]) {
    const [socket, body, ack] = args;
    return { type: 'raw', count: args.length, hasSocket: typeof socket === 'object', body, ack: ack ?? null };
  }
}

/** Stands in for the chats module: who shares a chat with whom. */
const contacts = new Map<string, string[]>();
const audience: PresenceAudience = { contactsOf: async (userId) => contacts.get(userId) ?? [] };

describe('realtime gateways (a feature gateway plugged into /ws)', () => {
  let db: TestDatabase;
  let app: NestExpressApplication;
  let url: string;
  let wsUrl: string;
  let request: ReturnType<typeof httpClient>;
  const sockets: TestSocket[] = [];

  async function start(prepare?: (app: NestExpressApplication) => void): Promise<NestExpressApplication> {
    // Without chats, whose real PresenceAudience would stand in for the probe's fake one.
    const config = loadConfig({
      APP_ENV: 'LOCAL',
      MODULES: 'auth,users,notify,health',
      PORT: '0',
      RATE_LIMIT_AUTH_PER_IP: '100000',
      ...db.env,
    });
    const logger = new AppLogger((process.env.TEST_LOG_LEVEL as 'error') ?? 'error', 'json');
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config)],
      providers: [ProbeGateway, { provide: PresenceAudience, useValue: audience }],
    })
      .overrideProvider(RealtimeSettings)
      .useValue(new RealtimeSettings({ heartbeatMs: 300 }))
      .compile();
    const nest = configureApp(moduleRef.createNestApplication<NestExpressApplication>({ logger, bodyParser: false }), config, logger);
    prepare?.(nest);
    await initApp(nest, config);
    await nest.listen(0, '127.0.0.1');
    return nest;
  }

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await start();
    const { port } = app.getHttpServer().address() as AddressInfo;
    url = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${port}/ws`;
    request = httpClient(url);
  });

  afterEach(async () => {
    calls.length = 0;
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  const ready = async (token: string) => {
    const socket = await connectReady(wsUrl, token);
    sockets.push(socket);
    return socket;
  };

  it('hands the handler the validated body and the caller, and replies with its return value under the frame id', async () => {
    const account = await signUpAndIn(request);
    const socket = await ready(account.accessToken);
    const reply = await socket.request({ type: 'echo', text: 'hi' }, 'e1');
    expect(reply).toEqual({
      type: 'echoed',
      text: 'hi',
      userId: account.user.id,
      sessionId: expect.any(String),
      connectionId: expect.any(String),
      id: 'e1',
    });
    expect(await socket.request({ type: 'ping' }, 'p')).toEqual({ type: 'pong', id: 'p' });
  });

  it('says which module serves a frame when that module is switched off (messages is, here)', async () => {
    const socket = await ready((await signUpAndIn(request)).accessToken);
    expect(await socket.request({ type: 'send_message', chatId: crypto.randomUUID(), text: 'hi' }, 's1')).toMatchObject({
      type: 'error',
      statusCode: 400,
      code: 'UNKNOWN_FRAME_TYPE',
      message: '"send_message" is served by the messages module, which this server runs without (MODULES).',
      id: 's1',
    });
    expect(await socket.request({ type: 'no_such_frame' }, 's2')).toMatchObject({
      code: 'UNKNOWN_FRAME_TYPE',
      message: 'Unknown frame type "no_such_frame".',
    });
    expect(await socket.request({ type: 'ping' }, 'p')).toEqual({ type: 'pong', id: 'p' });
  });

  it('writes one line per socket as it closes: who, how it ended, how long it lasted; a refused token too', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as { msg?: string }).msg === 'WebSocket closed')
        lines.push(message as Record<string, unknown>);
    });
    try {
      const account = await signUpAndIn(request);
      const socket = await connectReady(wsUrl, account.accessToken);
      socket.ws.close(1000, 'bye');
      await socket.closed;
      const refused = await openSocket(wsUrl, { headers: { authorization: 'Bearer not-a-token' } });
      await refused.closed;
      await eventually(() => lines.length === 2);

      expect(lines).toEqual([
        expect.objectContaining({
          userId: account.user.id,
          sessionId: expect.any(String),
          code: 1000,
          reason: 'bye',
          durationMs: expect.any(Number),
        }),
        expect.objectContaining({ userId: undefined, code: 4401, reason: 'TOKEN_INVALID' }),
      ]);
    } finally {
      log.mockRestore();
    }
  });

  it('answers a body that fails its DTO with VALIDATION_FAILED and details, without calling the handler', async () => {
    const socket = await ready((await signUpAndIn(request)).accessToken);
    const tooLong = await socket.request({ type: 'echo', text: 'far too long' }, 'v1');
    expect(tooLong).toMatchObject({ type: 'error', statusCode: 400, code: 'VALIDATION_FAILED', id: 'v1' });
    expect(tooLong.details).toEqual([{ field: 'text', message: expect.stringContaining('5') }]);
    const unknownField = await socket.request({ type: 'echo', text: 'ok', extra: 1 }, 'v2');
    expect(unknownField).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field: 'extra' })] });
    expect(calls).toEqual([]);
  });

  it('turns a thrown DomainError into an error frame with its code and status, and stays open', async () => {
    const socket = await ready((await signUpAndIn(request)).accessToken);
    expect(await socket.request({ type: 'conflict' }, 'c1')).toEqual({
      type: 'error',
      statusCode: 409,
      error: 'Conflict',
      code: 'PROBE_CONFLICT',
      message: 'That clashes with something.',
      id: 'c1',
    });
    expect(await socket.request({ type: 'echo', text: 'still' })).toMatchObject({ type: 'echoed' });
  });

  it('answers an unexpected failure with a bare INTERNAL_ERROR 500 and stays open', async () => {
    const socket = await ready((await signUpAndIn(request)).accessToken);
    expect(await socket.request({ type: 'crash' }, 'x1')).toEqual({
      type: 'error',
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL_ERROR',
      message: 'Something went wrong on our side.',
      id: 'x1',
    });
    expect(socket.isOpen).toBe(true);
  });

  it('handles one socket’s frames one at a time, in the order they were sent', async () => {
    const socket = await ready((await signUpAndIn(request)).accessToken);
    socket.send({ type: 'slow', ms: 300, id: 1 });
    socket.send({ type: 'echo', text: 'then', id: 2 });
    socket.send({ type: 'silent', id: 3 });
    socket.send({ type: 'ping', id: 4 });
    expect(await socket.next()).toMatchObject({ type: 'slowed', id: 1 });
    expect(await socket.next()).toMatchObject({ type: 'echoed', id: 2 });
    expect(await socket.next()).toEqual({ type: 'pong', id: 4 });
    expect(calls).toEqual(['slow:300', 'echo:then', 'silent']);
  });

  it('calls plain handlers directly, and a handler with a guard, an interceptor or a body field through Nest’s pipeline', async () => {
    const direct = app.get(DirectHandlers);
    for (const type of ['echo', 'slow', 'conflict', 'crash', 'silent', 'ping', 'raw']) expect(direct.get(type)).toBeDefined();
    for (const type of ['guarded', 'intercepted', 'field']) expect(direct.get(type)).toBeUndefined();

    const socket = await ready((await signUpAndIn(request)).accessToken);
    expect(await socket.request({ type: 'guarded' }, 'g1')).toMatchObject({ type: 'error', statusCode: 403, code: 'FORBIDDEN', id: 'g1' });
    expect(await socket.request({ type: 'intercepted', text: 'hi' }, 'i1')).toEqual({
      type: 'echoed',
      text: 'hi',
      intercepted: true,
      id: 'i1',
    });
    expect(await socket.request({ type: 'field', text: 'abc' }, 'f1')).toEqual({ type: 'field', text: 'abc', id: 'f1' });
    expect(calls).toEqual([]);
  });

  it('sends presence to the user’s contacts when they come online and when they go offline', async () => {
    const watcher = await signUpAndIn(request, 'Watcher');
    const stranger = await signUpAndIn(request, 'Stranger');
    const account = await signUpAndIn(request, 'Subject');
    contacts.set(account.user.id, [watcher.user.id]);
    const watching = await ready(watcher.accessToken);
    const notWatching = await ready(stranger.accessToken);

    const subject = await connectReady(wsUrl, account.accessToken);
    const online = await watching.nextOfType('presence');
    expect(online).toEqual({ type: 'presence', userId: account.user.id, online: true, lastSeenAt: expect.any(String) });
    // The profile says what the frame said, online as offline.
    const whileOnline = (await request('GET', `/api/v1/users/${account.user.id}`, { token: watcher.accessToken })).body;
    expect(whileOnline).toMatchObject({ online: true, lastSeenAt: online.lastSeenAt });
    await subject.close();
    const offline = await watching.nextOfType('presence');
    expect(offline).toEqual({ type: 'presence', userId: account.user.id, online: false, lastSeenAt: expect.any(String) });
    const profile = (await request('GET', `/api/v1/users/${account.user.id}`, { token: watcher.accessToken })).body;
    expect(profile).toMatchObject({ online: false, lastSeenAt: offline.lastSeenAt });

    await notWatching.request({ type: 'ping' });
    expect(notWatching.received).toEqual([]);
  });

  it('drops a socket that stops answering protocol pings, and keeps one that answers', async () => {
    const account = await signUpAndIn(request);
    const deaf = await openSocket(wsUrl, { token: account.accessToken, ws: { autoPong: false } });
    sockets.push(deaf);
    await deaf.nextOfType('ready');
    const healthy = await ready(account.accessToken);
    expect((await deaf.closed).code).toBe(1006);
    expect(await healthy.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('pings every socket once per beat, a slice of the sockets at a time rather than all at once', async () => {
    const account = await signUpAndIn(request);
    const opened = await Promise.all(Array.from({ length: 10 }, () => ready(account.accessToken)));
    const started = performance.now();
    const pings = opened.map(() => [] as number[]);
    opened.forEach((socket, i) => socket.ws.on('ping', () => pings[i].push(performance.now() - started)));
    await pause(1_000); // a little over three beats of 300 ms
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(2);
    for (const times of pings) expect(times.length).toBeLessThanOrEqual(5);
    // The ten sockets were accepted one after another, so they sit in different slices of the beat.
    const firsts = pings.map((times) => times[0]);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThanOrEqual(100);
  });

  it('closes within a beat the socket of a session revoked without a fan-out message (one this instance missed)', async () => {
    const [gone, kept] = await Promise.all([signUpAndIn(request), signUpAndIn(request)]);
    const goneSocket = await ready(gone.accessToken);
    const keptSocket = await ready(kept.accessToken);
    const keptSession: string = keptSocket.history.find((f) => f.type === 'ready').sessionId;
    const checks = jest.spyOn(app.get(SocketAuthenticator), 'endedSessions');
    try {
      // Straight in the database: no event and no fan-out, as when Redis lost the revocation.
      await app.get(DataSource).query(`UPDATE sessions SET revoked_at = now() WHERE user_id = $1`, [gone.user.id]);
      expect(await goneSocket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
      // The live session was checked after that too, and its socket stays.
      const since = checks.mock.calls.length;
      await eventually(() => checks.mock.calls.slice(since).some(([ids]) => ids.includes(keptSession)));
      expect(await keptSocket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    } finally {
      checks.mockRestore();
    }
  });

  it('lets an in-flight frame finish and answer before closing sockets with 1012 on shutdown', async () => {
    const other = await start();
    const { port } = other.getHttpServer().address() as AddressInfo;
    const account = await signUpAndIn(httpClient(`http://127.0.0.1:${port}`));
    const socket = await connectReady(`ws://127.0.0.1:${port}/ws`, account.accessToken);
    socket.send({ type: 'slow', ms: 500, id: 'inflight' });
    await pause(100);
    await other.close();
    expect(await socket.closed).toEqual({ code: 1012, reason: 'SERVER_RESTARTING' });
    expect(socket.received).toEqual([{ type: 'slowed', ms: 500, id: 'inflight' }]);
  });

  it('closes each socket with 1012 on shutdown once its own frames are done, not when the busiest is', async () => {
    const other = await start();
    const { port } = other.getHttpServer().address() as AddressInfo;
    const http = httpClient(`http://127.0.0.1:${port}`);
    const [busyAccount, idleAccount] = [await signUpAndIn(http), await signUpAndIn(http)];
    const busy = await connectReady(`ws://127.0.0.1:${port}/ws`, busyAccount.accessToken);
    const idle = await connectReady(`ws://127.0.0.1:${port}/ws`, idleAccount.accessToken);
    busy.send({ type: 'slow', ms: 1_000, id: 'busy' });
    await pause(100);
    const closing = other.close();
    expect(await idle.closed).toEqual({ code: 1012, reason: 'SERVER_RESTARTING' });
    // Before the busy socket's frame was answered: the idle one did not wait for it.
    expect(busy.received).toEqual([]);
    expect(await busy.closed).toEqual({ code: 1012, reason: 'SERVER_RESTARTING' });
    expect(busy.received).toEqual([{ type: 'slowed', ms: 1_000, id: 'busy' }]);
    await closing;
  });

  it('still handles events while shutdown drains: a session revoked meanwhile is closed as revoked, not as restarting', async () => {
    const other = await start();
    const { port } = other.getHttpServer().address() as AddressInfo;
    const http = httpClient(`http://127.0.0.1:${port}`);
    const account = await signUpAndIn(http);
    const second = await http('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
    const busy = await connectReady(`ws://127.0.0.1:${port}/ws`, account.accessToken);
    const revoked = await connectReady(`ws://127.0.0.1:${port}/ws`, second.body.accessToken);
    const sessionId: string = revoked.history.find((f) => f.type === 'ready').sessionId;
    busy.send({ type: 'slow', ms: 800, id: 'holds-the-drain' });
    revoked.send({ type: 'slow', ms: 800, id: 'holds-its-socket' });
    await pause(100);
    const closing = other.close();
    await pause(200); // the drain waits for the slow frames; the event handlers must still be there
    other.get(EventBus).publish(new SessionsRevokedEvent(account.user.id, [sessionId]));
    expect(await revoked.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    await closing;
    expect(await busy.closed).toEqual({ code: 1012, reason: 'SERVER_RESTARTING' });
  });

  it('answers exactly as Nest’s pipeline does, which every handler takes once a global guard is not marked HTTP-only', async () => {
    const guard = new CountingGuard();
    const other = await start((nest) => nest.useGlobalGuards(guard));
    try {
      expect(other.get(DirectHandlers).get('echo')).toBeUndefined();
      const { port } = other.getHttpServer().address() as AddressInfo;
      const viaNest = await connectReady(
        `ws://127.0.0.1:${port}/ws`,
        (await signUpAndIn(httpClient(`http://127.0.0.1:${port}`))).accessToken,
      );
      sockets.push(viaNest);
      const directAccount = await signUpAndIn(request);
      const direct = await ready(directAccount.accessToken);
      const lookups = jest.spyOn(app.get(DirectHandlers), 'get');
      const frames = [
        { type: 'echo', text: 'hi' },
        { type: 'echo', text: 'far too long' },
        { type: 'echo', text: 'ok', extra: 1 },
        { type: 'echo' },
        { type: 'conflict' },
        { type: 'crash' },
        { type: 'ping' },
        { type: 'raw', x: 1 },
      ];
      for (const [i, frame] of frames.entries()) {
        const [a, b] = await Promise.all([direct.request(frame, i), viaNest.request(frame, i)]);
        const { userId, sessionId: _s1, connectionId: _c1, ...fromDirect } = a;
        const { userId: _u2, sessionId: _s2, connectionId: _c2, ...fromNest } = b;
        expect(fromDirect).toEqual(fromNest);
        if (a.type === 'echoed') expect(userId).toBe(directAccount.user.id);
      }
      // Every frame on the first app went through its direct handler.
      const used = lookups.mock.results.filter((r) => typeof r.value === 'function').length;
      lookups.mockRestore();
      expect(used).toBe(frames.length);
      expect(guard.count).toBe(frames.length);
    } finally {
      await other.close();
    }
  });
});
