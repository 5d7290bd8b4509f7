import { jest } from '@jest/globals';
import { EventBus, ofType } from '@nestjs/cqrs';
import { JwtService } from '@nestjs/jwt';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { EmailLinksService } from '../src/modules/auth/email-links.service.js';
import { PasswordHasher } from '../src/modules/auth/password-hasher.js';
import { SessionRepository } from '../src/modules/auth/session.repository.js';
import { MAX_LIVE_SESSIONS } from '../src/modules/auth/auth.service.js';
import { UserSignedUpEvent } from '../src/modules/auth/events/user-signed-up.event.js';
import { PasswordResetRequestedEvent } from '../src/modules/auth/events/password-reset-requested.event.js';
import { DEV_ACCESS_SECRET, DEV_REFRESH_SECRET } from '../src/config/app-config.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient, type RequestOptions } from './support/http.js';
import { type SignedIn, signUpAndIn, uniqueEmail } from './support/accounts.js';
import { deleteRedisKeys, redisProxy, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { connectReady, eventually as eventuallyTrue } from './support/ws.js';
import { AuthHousekeeping } from '../src/modules/auth/auth-housekeeping.js';

describe('auth', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  const me = (token: string) => request('GET', '/api/v1/users/me', { token });

  describe('sign-up', () => {
    it('creates an unconfirmed account with a normalised email and trimmed name', async () => {
      const email = uniqueEmail('Mixed');
      const result = await request('POST', '/api/v1/auth/sign-up', {
        body: { email: `  ${email.toUpperCase()} `, password: 'secret123', name: '  Ada   Lovelace ' },
      });
      expect(result.status).toBe(201);
      expect(result.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        email: email.toLowerCase(),
        name: 'Ada Lovelace',
        avatarUrl: null,
        emailConfirmed: false,
        lastSeenAt: null,
        createdAt: expect.any(String),
      });
    });

    it('stores the password as an argon2id hash, never as given', async () => {
      const { user, password } = await signUpAndIn(request);
      const [row] = (await app.app.get(DataSource).query('SELECT password_hash FROM users WHERE id = $1', [user.id])) as Array<{
        password_hash: string;
      }>;
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$/);
      expect(row.password_hash).not.toContain(password);
    });

    it.each([
      ['a malformed email', { email: 'not-an-email', password: 'secret123', name: 'A' }, 'email'],
      ['a short password', { email: uniqueEmail(), password: 'abc123', name: 'A' }, 'password'],
      ['a password without a digit', { email: uniqueEmail(), password: 'abcdefghij', name: 'A' }, 'password'],
      ['a password without a letter', { email: uniqueEmail(), password: '1234567890', name: 'A' }, 'password'],
      ['a password over 128 characters', { email: uniqueEmail(), password: 'a1'.repeat(65), name: 'A' }, 'password'],
      ['a blank name', { email: uniqueEmail(), password: 'secret123', name: '   ' }, 'name'],
      ['a name that draws as nothing', { email: uniqueEmail(), password: 'secret123', name: '\u3164 \u2800' }, 'name'],
      ['a name of accents with no letter', { email: uniqueEmail(), password: 'secret123', name: '\u0301\u0308' }, 'name'],
      ['a name over 64 characters', { email: uniqueEmail(), password: 'secret123', name: 'x'.repeat(65) }, 'name'],
      ['a missing name', { email: uniqueEmail(), password: 'secret123' }, 'name'],
    ])('rejects %s with 400 and creates nothing', async (_label, body, field) => {
      const result = await request('POST', '/api/v1/auth/sign-up', { body });
      expectErrorShape(result, 400, 'VALIDATION_FAILED');
      expect(result.body.details.map((d: { field: string }) => d.field)).toContain(field);
      if (typeof body.email === 'string' && body.email.includes('@') && typeof body.password === 'string') {
        expect((await request('POST', '/api/v1/auth/sign-in', { body: { email: body.email, password: body.password } })).status).not.toBe(
          200,
        );
      }
    });

    it('answers 409 EMAIL_TAKEN for an email that exists in any case', async () => {
      const email = uniqueEmail();
      expect((await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'One' } })).status).toBe(201);
      expectErrorShape(
        await request('POST', '/api/v1/auth/sign-up', { body: { email: email.toUpperCase(), password: 'secret123', name: 'Two' } }),
        409,
        'EMAIL_TAKEN',
      );
    });

    it('creates exactly one account when the same email signs up many times at once', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        Array.from({ length: 8 }, () => request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'Racer' } })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    });
  });

  describe('sign-in', () => {
    it('returns tokens and the user, and sets httpOnly SameSite=Lax cookies (not Secure in LOCAL)', async () => {
      const email = uniqueEmail();
      await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'Cookie' } });
      const result = await request('POST', '/api/v1/auth/sign-in', {
        body: { email: email.toUpperCase(), password: 'secret123' },
        headers: { 'user-agent': 'jest-agent' },
      });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: 900,
        user: expect.objectContaining({ email }),
      });
      const cookies = result.headers.getSetCookie();
      expect(cookies).toEqual([
        expect.stringMatching(/^access_token=[^;]+; Max-Age=900; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/),
        expect.stringMatching(/^refresh_token=[^;]+; Max-Age=2592000; Path=\/api\/v1\/auth; Expires=[^;]+; HttpOnly; SameSite=Lax$/),
      ]);
    });

    it('gives the same 401 for an unknown email and a wrong password, and checks a decoy hash for the unknown one', async () => {
      const { user } = await signUpAndIn(request);
      const hasher = app.app.get(PasswordHasher);
      const burn = jest.spyOn(hasher, 'burn');
      const verify = jest.spyOn(hasher, 'verify');
      try {
        const unknown = await request('POST', '/api/v1/auth/sign-in', { body: { email: uniqueEmail('ghost'), password: 'whatever1' } });
        expect(burn).toHaveBeenCalledTimes(1);
        const wrong = await request('POST', '/api/v1/auth/sign-in', { body: { email: user.email, password: 'whatever1' } });
        expect(verify).toHaveBeenCalledTimes(2); // once inside burn, once for the real hash
        expectErrorShape(unknown, 401, 'INVALID_CREDENTIALS');
        expect(wrong.body).toEqual(unknown.body);
      } finally {
        burn.mockRestore();
        verify.mockRestore();
      }
    });
  });

  describe('access', () => {
    it('accepts the access token as a bearer header or as the access_token cookie', async () => {
      const { accessToken, user } = await signUpAndIn(request);
      expect((await me(accessToken)).body.id).toBe(user.id);
      const viaCookie = await request('GET', '/api/v1/users/me', { headers: { cookie: `access_token=${accessToken}` } });
      expect(viaCookie.status).toBe(200);
      expect(viaCookie.body.id).toBe(user.id);
    });

    it('refuses a missing, forged or expired token with 401', async () => {
      const { user, accessToken } = await signUpAndIn(request);
      expectErrorShape(await request('GET', '/api/v1/users/me'), 401, 'UNAUTHENTICATED');
      expectErrorShape(await me(accessToken.slice(0, -3) + 'abc'), 401, 'TOKEN_INVALID');
      const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
      const expired = new JwtService().sign(
        { sub: user.id, sid: claims.sid, typ: 'access', exp: Math.floor(Date.now() / 1000) - 10 },
        { secret: DEV_ACCESS_SECRET },
      );
      expectErrorShape(await me(expired), 401, 'TOKEN_EXPIRED');
    });

    it('refuses a token signed with the access secret that is not an access token, as the WebSocket does', async () => {
      const { user, accessToken } = await signUpAndIn(request);
      const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
      for (const typ of [undefined, 'refresh']) {
        const token = new JwtService().sign({ sub: user.id, sid: claims.sid, ...(typ ? { typ } : {}) }, { secret: DEV_ACCESS_SECRET });
        expectErrorShape(await me(token), 401, 'TOKEN_INVALID');
      }
      // Every access token Parley issues expires: one that never does was not made by it.
      const forever = new JwtService().sign({ sub: user.id, sid: claims.sid, typ: 'access' }, { secret: DEV_ACCESS_SECRET });
      expectErrorShape(await me(forever), 401, 'TOKEN_INVALID');
      const notYet = new JwtService().sign(
        { sub: user.id, sid: claims.sid, typ: 'access' },
        { secret: DEV_ACCESS_SECRET, expiresIn: 600, notBefore: 300 },
      );
      expectErrorShape(await me(notYet), 401, 'TOKEN_INVALID');
      expect((await me(accessToken)).status).toBe(200);
    });

    it('refuses a token signed with the secret whose ids are not ids (401 TOKEN_INVALID, never a 500), on every path that reads one', async () => {
      const { user, accessToken, refreshToken } = await signUpAndIn(request);
      const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
      const refresh = JSON.parse(Buffer.from(refreshToken.split('.')[1], 'base64url').toString());
      for (const bad of ["x' OR 1=1--", ['a'], { a: 1 }, 7, user.id.toUpperCase()]) {
        const sign = (payload: object, secret: string) => new JwtService().sign(payload, { secret, expiresIn: 600 });
        const access = [
          sign({ sub: user.id, sid: bad, typ: 'access' }, DEV_ACCESS_SECRET),
          sign({ sub: bad, sid: claims.sid, typ: 'access' }, DEV_ACCESS_SECRET),
        ];
        for (const token of access) expectErrorShape(await me(token), 401, 'TOKEN_INVALID');
        const forged = sign({ sub: user.id, sid: bad, jti: refresh.jti, typ: 'refresh' }, DEV_REFRESH_SECRET);
        expectErrorShape(await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: forged } }), 401, 'TOKEN_INVALID');
        const badJti = sign({ sub: user.id, sid: refresh.sid, jti: bad, typ: 'refresh' }, DEV_REFRESH_SECRET);
        expectErrorShape(await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: badJti } }), 401, 'TOKEN_INVALID');
        const out = await request('POST', '/api/v1/auth/sign-out', { headers: { cookie: `refresh_token=${forged}` } });
        expect(out.status).toBeLessThan(500);
      }
      // The real ones still work: nothing was revoked by the forgeries.
      expect((await me(accessToken)).status).toBe(200);
    });

    it('keeps checking tokens after another application in the same process started and closed', async () => {
      const { accessToken } = await signUpAndIn(request);
      const otherDb = await createTestDatabase('postgres');
      const other = await startTestApp(otherDb.env);
      await other.close();
      await otherDb.dispose();
      expect((await me(accessToken)).status).toBe(200);
    });
  });

  describe('refresh', () => {
    it("answers an expired refresh token with REFRESH_EXPIRED (sign in again), not the access token's TOKEN_EXPIRED", async () => {
      const { refreshToken } = await signUpAndIn(request);
      const claims = JSON.parse(Buffer.from(refreshToken.split('.')[1], 'base64url').toString());
      const expired = new JwtService().sign(
        { ...claims, iat: claims.iat - 3600, exp: Math.floor(Date.now() / 1000) - 10 },
        { secret: DEV_REFRESH_SECRET },
      );
      const answer = await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: expired } });
      expectErrorShape(answer, 401, 'REFRESH_EXPIRED');
      expect(answer.body.message).toMatch(/sign in again/);
    });

    it('rotates: each refresh token works once, and a reused one revokes the whole session', async () => {
      const first = await signUpAndIn(request);
      const second = await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
      expect(second.status).toBe(200);
      expect(second.body.refreshToken).not.toBe(first.refreshToken);
      expect((await me(second.body.accessToken)).status).toBe(200);

      expectErrorShape(
        await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } }),
        401,
        'REFRESH_REUSED',
      );
      expectErrorShape(
        await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } }),
        401,
        'SESSION_REVOKED',
      );
      expectErrorShape(await me(second.body.accessToken), 401, 'SESSION_REVOKED');
    });

    it('lets only one of several simultaneous refreshes with the same token win', async () => {
      const { refreshToken } = await signUpAndIn(request);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => request('POST', '/api/v1/auth/refresh', { body: { refreshToken } })),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(4);
    });

    it('answers SESSION_REVOKED, not REFRESH_REUSED, to a refresh that loses the race with a sign-out', async () => {
      const account = await signUpAndIn(request);
      const sessions = app.app.get(SessionRepository);
      const rotate = sessions.rotate.bind(sessions);
      // The sign-out lands between the refresh's check of the session and its rotation.
      const raced = jest.spyOn(sessions, 'rotate').mockImplementationOnce(async (...args) => {
        expect((await request('POST', '/api/v1/auth/sign-out', { token: account.accessToken })).status).toBe(204);
        return rotate(...args);
      });
      try {
        expectErrorShape(
          await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: account.refreshToken } }),
          401,
          'SESSION_REVOKED',
        );
      } finally {
        raced.mockRestore();
      }
    });

    it('reads the refresh token from the cookie when the body has none', async () => {
      const { refreshToken } = await signUpAndIn(request);
      const result = await request('POST', '/api/v1/auth/refresh', { body: {}, headers: { cookie: `refresh_token=${refreshToken}` } });
      expect(result.status).toBe(200);
      expectErrorShape(await request('POST', '/api/v1/auth/refresh', { body: {} }), 401, 'UNAUTHENTICATED');
    });

    it('refuses an access token used as a refresh token', async () => {
      const { accessToken } = await signUpAndIn(request);
      expectErrorShape(await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: accessToken } }), 401, 'TOKEN_INVALID');
    });
  });

  describe('sessions', () => {
    it('removes sessions and email links a day past their expiry, revoked ones too, and keeps the rest', async () => {
      const db = app.app.get(DataSource);
      const [old, revoked, live] = [await signUpAndIn(request), await signUpAndIn(request), await signUpAndIn(request)];
      const sessionOf = async (account: SignedIn) =>
        ((await db.query('SELECT id FROM sessions WHERE user_id = $1', [account.user.id])) as Array<{ id: string }>).map((r) => r.id);
      await db.query(`UPDATE sessions SET expires_at = now() - interval '25 hours' WHERE user_id = $1`, [old.user.id]);
      // Revoked, still within its lifetime: kept, so that its refresh token is still recognised.
      await request('POST', '/api/v1/auth/sign-out', { token: revoked.accessToken });
      await db.query(`UPDATE auth_tokens SET expires_at = now() - interval '25 hours' WHERE user_id = $1`, [old.user.id]);
      await db.query(`UPDATE auth_tokens SET expires_at = now() - interval '23 hours' WHERE user_id = $1`, [live.user.id]);
      const [revokedSession, liveSession] = [await sessionOf(revoked), await sessionOf(live)];

      const removed = await app.app.get(AuthHousekeeping).run();
      expect(removed.sessions).toBeGreaterThanOrEqual(1);
      expect(removed.links).toBeGreaterThanOrEqual(1);
      expect(await sessionOf(old)).toEqual([]);
      expect([await sessionOf(revoked), await sessionOf(live)]).toEqual([revokedSession, liveSession]);
      const links = async (account: SignedIn) =>
        (await db.query('SELECT id FROM auth_tokens WHERE user_id = $1', [account.user.id])).length;
      expect([await links(old), await links(live)]).toEqual([0, 1]);
      expect((await request('GET', '/api/v1/users/me', { token: live.accessToken })).status).toBe(200);
    });

    it('sign-out ends the session at once and clears the cookies', async () => {
      const { accessToken, refreshToken } = await signUpAndIn(request);
      const out = await request('POST', '/api/v1/auth/sign-out', { token: accessToken });
      expect(out.status).toBe(204);
      expect(out.headers.getSetCookie()).toEqual([
        expect.stringMatching(/^access_token=; Path=\/; Expires=Thu, 01 Jan 1970/),
        expect.stringMatching(/^refresh_token=; Path=\/api\/v1\/auth; Expires=Thu, 01 Jan 1970/),
      ]);
      expectErrorShape(await me(accessToken), 401, 'SESSION_REVOKED');
      expectErrorShape(await request('POST', '/api/v1/auth/refresh', { body: { refreshToken } }), 401, 'SESSION_REVOKED');
    });

    it('signs out by the refresh token (body or cookie) once the access token is no good, and refuses without either', async () => {
      const byBody = await signUpAndIn(request);
      const expired = 'eyJhbGciOiJIUzI1NiJ9.e30.not-valid-any-more';
      expect((await request('POST', '/api/v1/auth/sign-out', { token: expired, body: { refreshToken: byBody.refreshToken } })).status).toBe(
        204,
      );
      expectErrorShape(
        await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: byBody.refreshToken } }),
        401,
        'SESSION_REVOKED',
      );

      const byCookie = await signUpAndIn(request);
      const out = await request('POST', '/api/v1/auth/sign-out', { headers: { cookie: `refresh_token=${byCookie.refreshToken}` } });
      expect(out.status).toBe(204);
      expectErrorShape(await me(byCookie.accessToken), 401, 'SESSION_REVOKED');

      const stray = await signUpAndIn(request);
      expect((await request('POST', '/api/v1/auth/sign-out', { token: stray.accessToken, body: { x: 1, refreshToken: 42 } })).status).toBe(
        204,
      );
      expectErrorShape(await me(stray.accessToken), 401, 'SESSION_REVOKED');

      // A body it cannot read is left aside, not refused: the session still ends.
      const unreadable: Array<[string, RequestOptions]> = [
        ['broken JSON', { raw: '{bad' }],
        ['UTF-16', { raw: '{}', headers: { 'content-type': 'application/json; charset=utf-16' } }],
        ['over the size limit', { raw: JSON.stringify({ pad: 'x'.repeat(1_100_000) }) }],
      ];
      for (const [what, options] of unreadable) {
        const session = await signUpAndIn(request);
        const out = await request('POST', '/API/v1/auth/sign-out/', { ...options, token: session.accessToken });
        expect({ what, status: out.status, cookies: out.headers.getSetCookie().length }).toEqual({ what, status: 204, cookies: 2 });
        expectErrorShape(await me(session.accessToken), 401, 'SESSION_REVOKED');
      }
      // Elsewhere such a body is still refused.
      expectErrorShape(await request('POST', '/api/v1/auth/refresh', { raw: '{bad' }), 400, 'MALFORMED_JSON');

      const nothing = await request('POST', '/api/v1/auth/sign-out', { token: expired });
      expectErrorShape(nothing, 401, 'UNAUTHENTICATED');
      expect(nothing.headers.getSetCookie()).toHaveLength(2); // the cookies are cleared all the same
    });

    it('lists live sessions and revoking one stops its tokens at once, not the others', async () => {
      const phone = await signUpAndIn(request);
      const laptop = await request('POST', '/api/v1/auth/sign-in', {
        body: { email: phone.user.email, password: phone.password },
        headers: { 'user-agent': 'laptop' },
      });
      const list = await request('GET', '/api/v1/auth/sessions', { token: phone.accessToken });
      expect(list.status).toBe(200);
      expect(list.body).toHaveLength(2);
      const laptopSession = list.body.find((s: { userAgent: string }) => s.userAgent === 'laptop');
      expect(laptopSession).toEqual({
        id: expect.any(String),
        userAgent: 'laptop',
        ip: '127.0.0.1', // as people write it (displayAddress: also from a dual-stack listener)
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
        current: false,
      });
      expect(list.body.filter((s: { current: boolean }) => s.current)).toHaveLength(1);

      expect((await request('DELETE', `/api/v1/auth/sessions/${laptopSession.id}`, { token: phone.accessToken })).status).toBe(204);
      expectErrorShape(await me(laptop.body.accessToken), 401, 'SESSION_REVOKED');
      expect((await me(phone.accessToken)).status).toBe(200);
      expect((await request('GET', '/api/v1/auth/sessions', { token: phone.accessToken })).body).toHaveLength(1);
    });

    it('keeps at most MAX_LIVE_SESSIONS live sessions a user: a sign-in beyond ends the least recently used, and its socket', async () => {
      const account = await signUpAndIn(request, 'Many Devices');
      const db = app.app.get(DataSource);
      // Sessions of earlier sign-ins, the first used longest ago; the account's own is the most recent.
      await db.query(
        `INSERT INTO sessions (id, user_id, refresh_token_hash, expires_at, created_at, last_used_at)
         SELECT gen_random_uuid(), $1, md5(random()::text), now() + interval '30 days', now() - interval '2 days', now() - (interval '1 minute' * (200 - n))
           FROM generate_series(1, $2::int - 1) n`,
        [account.user.id, MAX_LIVE_SESSIONS],
      );
      const oldest = (await db.query(`SELECT id FROM sessions WHERE user_id = $1 ORDER BY last_used_at LIMIT 2`, [account.user.id])).map(
        (r: { id: string }) => r.id,
      );
      const socket = await connectReady(app.wsUrl, account.accessToken);

      const again = await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
      expect(again.status).toBe(200);
      const live = async () =>
        (await db.query(`SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()`, [account.user.id])).map(
          (r: { id: string }) => r.id,
        );
      expect((await live()).length).toBe(MAX_LIVE_SESSIONS);
      expect(await live()).not.toContain(oldest[0]);
      expect(await live()).toContain(oldest[1]);
      expect((await request('GET', '/api/v1/auth/sessions', { token: again.body.accessToken })).body).toHaveLength(MAX_LIVE_SESSIONS);

      // Made the least recently used, the account's first session is the one the next sign-in ends, and its socket closes.
      await db.query(`UPDATE sessions SET last_used_at = now() - interval '1 day' WHERE id = $1`, [
        JSON.parse(Buffer.from(account.accessToken.split('.')[1], 'base64url').toString()).sid,
      ]);
      expect(
        (await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } })).status,
      ).toBe(200);
      expect(await socket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
      expectErrorShape(await me(account.accessToken), 401, 'SESSION_REVOKED');
      expect((await me(again.body.accessToken)).status).toBe(200);

      // A sign-in never ends its own session, even when every other was used after it.
      await db.query(`UPDATE sessions SET last_used_at = now() + interval '1 hour' WHERE user_id = $1 AND revoked_at IS NULL`, [
        account.user.id,
      ]);
      const latest = await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
      expect((await me(latest.body.accessToken)).status).toBe(200);
      expect((await live()).length).toBe(MAX_LIVE_SESSIONS);
    });

    it("answers 404 for someone else's session and leaves it alone", async () => {
      const alice = await signUpAndIn(request, 'Alice');
      const bob = await signUpAndIn(request, 'Bob');
      const [bobSession] = (await request('GET', '/api/v1/auth/sessions', { token: bob.accessToken })).body;
      expectErrorShape(
        await request('DELETE', `/api/v1/auth/sessions/${bobSession.id}`, { token: alice.accessToken }),
        404,
        'SESSION_NOT_FOUND',
      );
      expect((await me(bob.accessToken)).status).toBe(200);
    });
  });

  describe('email confirmation and password reset', () => {
    const nextEvent = <T>(type: new (...args: any[]) => T, email: string) =>
      firstValueFrom(
        app.app.get(EventBus).pipe(
          ofType(type as any),
          filter((e: any) => e.email === email),
        ),
      ) as Promise<T>;

    it('confirms the email with the mailed token, once', async () => {
      const email = uniqueEmail('confirm');
      const event = nextEvent(UserSignedUpEvent, email);
      await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'Confirm' } });
      const { confirmationToken } = await event;
      const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email, password: 'secret123' } });
      expect(signIn.body.user.emailConfirmed).toBe(false);

      expect((await request('POST', '/api/v1/auth/confirm-email', { body: { token: confirmationToken } })).status).toBe(204);
      expect((await me(signIn.body.accessToken)).body.emailConfirmed).toBe(true);
      expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token: confirmationToken } }), 400, 'INVALID_TOKEN');
      expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token: 'made-up' } }), 400, 'INVALID_TOKEN');
    });

    it('refuses an expired confirmation or reset link with 400 INVALID_TOKEN, changing nothing', async () => {
      const email = uniqueEmail('late');
      const signedUp = nextEvent(UserSignedUpEvent, email);
      await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'Late' } });
      const { confirmationToken, userId } = await signedUp;
      const reset = nextEvent(PasswordResetRequestedEvent, email);
      await request('POST', '/api/v1/auth/password/forgot', { body: { email } });
      const { resetToken } = await reset;
      await app.app.get(DataSource).query(`UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [userId]);

      expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token: confirmationToken } }), 400, 'INVALID_TOKEN');
      const body = { token: resetToken, password: 'another123' };
      expectErrorShape(await request('POST', '/api/v1/auth/password/reset', { body }), 400, 'INVALID_TOKEN');
      const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email, password: 'secret123' } });
      expect(signIn.body.user.emailConfirmed).toBe(false);
    });

    it('answers forgot-password with 202 whether or not the account exists, and mails only real accounts', async () => {
      const { user } = await signUpAndIn(request);
      const published: string[] = [];
      const sub = app.app
        .get(EventBus)
        .pipe(ofType(PasswordResetRequestedEvent))
        .subscribe((e) => published.push(e.email));
      try {
        const known = await request('POST', '/api/v1/auth/password/forgot', { body: { email: user.email } });
        const unknown = await request('POST', '/api/v1/auth/password/forgot', { body: { email: uniqueEmail('nobody') } });
        expect([known.status, unknown.status]).toEqual([202, 202]);
        expect(known.body).toEqual(unknown.body);
        // The link is made after the answer (so that its timing says nothing either).
        await app.app.get(EmailLinksService).resetRequestsSettled();
        expect(published).toEqual([user.email]);
      } finally {
        sub.unsubscribe();
      }
    });

    it('resets the password with the mailed token, revoking every session', async () => {
      const account = await signUpAndIn(request);
      const event = nextEvent(PasswordResetRequestedEvent, account.user.email);
      await request('POST', '/api/v1/auth/password/forgot', { body: { email: account.user.email } });
      const { resetToken } = await event;

      expectErrorShape(
        await request('POST', '/api/v1/auth/password/reset', { body: { token: resetToken, password: 'short' } }),
        400,
        'VALIDATION_FAILED',
      );
      const resetResult = await request('POST', '/api/v1/auth/password/reset', { body: { token: resetToken, password: 'brand-new-1' } });
      expect({ status: resetResult.status, body: resetResult.body }).toEqual({ status: 204, body: '' });
      expectErrorShape(await me(account.accessToken), 401, 'SESSION_REVOKED');
      expect(
        (await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } })).status,
      ).toBe(401);
      const fresh = await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: 'brand-new-1' } });
      expect(fresh.status).toBe(200);
      expect(fresh.body.user.emailConfirmed).toBe(true);
      expectErrorShape(
        await request('POST', '/api/v1/auth/password/reset', { body: { token: resetToken, password: 'another-1' } }),
        400,
        'INVALID_TOKEN',
      );
    });

    it('does not let a sign-in with the old password outlive a reset that commits while it is being checked', async () => {
      const account = await signUpAndIn(request);
      // A reset in progress elsewhere: the new password is set and every session revoked, not yet committed.
      const reset = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await reset.connect();
      try {
        await reset.query('BEGIN');
        await reset.query(`UPDATE users SET password_hash = 'reset-in-progress', updated_at = now() WHERE id = $1`, [account.user.id]);
        await reset.query(
          `UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_reset' WHERE user_id = $1 AND revoked_at IS NULL`,
          [account.user.id],
        );
        let answered = false;
        const signIn = request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } }).then(
          (r) => ((answered = true), r),
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(answered).toBe(false); // it waits for the reset to decide
        await reset.query('COMMIT');
        expectErrorShape(await signIn, 401, 'INVALID_CREDENTIALS');
        const live = await reset.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [
          account.user.id,
        ]);
        expect(live.rows[0].n).toBe(0);
      } finally {
        await reset.end();
      }
    });

    it('keeps only the newest reset link valid', async () => {
      const account = await signUpAndIn(request);
      const first = nextEvent(PasswordResetRequestedEvent, account.user.email);
      await request('POST', '/api/v1/auth/password/forgot', { body: { email: account.user.email } });
      const { resetToken: older } = await first;
      const second = nextEvent(PasswordResetRequestedEvent, account.user.email);
      await request('POST', '/api/v1/auth/password/forgot', { body: { email: account.user.email } });
      const { resetToken: newer } = await second;
      expectErrorShape(
        await request('POST', '/api/v1/auth/password/reset', { body: { token: older, password: 'brand-new-1' } }),
        400,
        'INVALID_TOKEN',
      );
      expect((await request('POST', '/api/v1/auth/password/reset', { body: { token: newer, password: 'brand-new-1' } })).status).toBe(204);
    });

    it("makes an account's link only while no other instance is making one for it", async () => {
      // Another instance making a link for the same account holds this lock until it commits.
      const account = await signUpAndIn(request);
      const other = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await other.connect();
      try {
        const key = `hashtextextended('parley:password-reset:' || $1, 0)`;
        await other.query('BEGIN');
        await other.query(`SELECT pg_advisory_xact_lock(${key})`, [account.user.id]);
        let mailed = false;
        const event = nextEvent(PasswordResetRequestedEvent, account.user.email).then((e) => ((mailed = true), e));
        expect((await request('POST', '/api/v1/auth/password/forgot', { body: { email: account.user.email } })).status).toBe(202);
        // The request waits for the lock (a bigint key shows as its high and low 32 bits).
        const waiting = async () =>
          (
            await other.query(
              `SELECT count(*)::int AS n FROM pg_locks l, (SELECT ${key} AS k) lock
                WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
                  AND l.classid::bigint = (lock.k >> 32) & 4294967295 AND l.objid::bigint = lock.k & 4294967295`,
              [account.user.id],
            )
          ).rows[0].n === 1;
        await eventuallyTrue(waiting);
        expect(mailed).toBe(false);
        await other.query('COMMIT');
        const { resetToken } = await event;
        expect(
          (await request('POST', '/api/v1/auth/password/reset', { body: { token: resetToken, password: 'brand-new-1' } })).status,
        ).toBe(204);
      } finally {
        await other.end();
      }
    });

    it('keeps only the newest reset link valid when requests come at once', async () => {
      const account = await signUpAndIn(request);
      const tokens: string[] = [];
      const sub = app.app
        .get(EventBus)
        .pipe(ofType(PasswordResetRequestedEvent))
        .subscribe((e) => e.email === account.user.email && tokens.push(e.resetToken));
      try {
        const forgot = () => request('POST', '/api/v1/auth/password/forgot', { body: { email: account.user.email } });
        expect((await Promise.all([forgot(), forgot(), forgot()])).map((r) => r.status)).toEqual([202, 202, 202]);
        await app.app.get(EmailLinksService).resetRequestsSettled();
      } finally {
        sub.unsubscribe();
      }
      expect(tokens).toHaveLength(3);
      for (const older of tokens.slice(0, 2)) {
        expectErrorShape(
          await request('POST', '/api/v1/auth/password/reset', { body: { token: older, password: 'brand-new-1' } }),
          400,
          'INVALID_TOKEN',
        );
      }
      expect((await request('POST', '/api/v1/auth/password/reset', { body: { token: tokens[2], password: 'brand-new-1' } })).status).toBe(
        204,
      );
    });
  });
});

describe('auth rate limits', () => {
  let db: TestDatabase;
  const apps: TestApp[] = [];
  /** REDIS_PREFIXes that apps share, whose keys go once the apps are closed. */
  const sharedPrefixes: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(sharedPrefixes.map((prefix) => deleteRedisKeys(prefix)));
    await db?.dispose();
  });

  it('blocks an account after RATE_LIMIT_AUTH_PER_ACCOUNT failed sign-ins, even with the right password, with Retry-After', async () => {
    const app = await startTestApp({ ...db.env, RATE_LIMIT_AUTH_PER_ACCOUNT: '3' });
    apps.push(app);
    const request = httpClient(app.url);
    const victim = await signUpAndIn(request);
    const bystander = await signUpAndIn(request);
    for (let i = 0; i < 3; i++) {
      expect(
        (await request('POST', '/api/v1/auth/sign-in', { body: { email: victim.user.email, password: 'wrong-guess-1' } })).status,
      ).toBe(401);
    }
    const blocked = await request('POST', '/api/v1/auth/sign-in', { body: { email: victim.user.email, password: victim.password } });
    expectErrorShape(blocked, 429, 'TOO_MANY_ATTEMPTS');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(
      (await request('POST', '/api/v1/auth/sign-in', { body: { email: bystander.user.email, password: bystander.password } })).status,
    ).toBe(200);
  });

  it('locks an account only for the address a guesser uses; guesses from many addresses reach a bound that spares the addresses the owner signed in from', async () => {
    const app = await startTestApp({ ...db.env, RATE_LIMIT_AUTH_PER_ACCOUNT: '2' });
    apps.push(app);
    const request = httpClient(app.url);
    const owner = await signUpAndIn(request);
    // Requests come from 127.0.0.1, a proxy TRUST_PROXY believes: X-Forwarded-For names the client.
    const signIn = (password: string, from?: string) =>
      request('POST', '/api/v1/auth/sign-in', {
        body: { email: owner.user.email, password },
        headers: from ? { 'x-forwarded-for': from } : {},
      });
    for (let i = 0; i < 2; i++) expect((await signIn('wrong-guess-1', '203.0.113.7')).status).toBe(401);
    expectErrorShape(await signIn(owner.password, '203.0.113.7'), 429, 'TOO_MANY_ATTEMPTS');
    expect((await signIn(owner.password)).status).toBe(200); // the owner, elsewhere, is not locked out

    // Spread over more addresses, twenty guesses in all (ten times the limit; the two above count)
    // lock the account everywhere else: a new address, a guesser's or the owner's, is refused.
    for (let n = 1; n <= 9; n++) {
      for (let i = 0; i < 2; i++) expect((await signIn('wrong-guess-1', `198.51.100.${n}`)).status).toBe(401);
    }
    expectErrorShape(await signIn(owner.password, '192.0.2.50'), 429, 'TOO_MANY_ATTEMPTS');
    // The owner, from where they signed in before, still signs in; that hands the guessers nothing.
    expect((await signIn(owner.password)).status).toBe(200);
    expectErrorShape(await signIn('wrong-guess-2', '198.51.100.77'), 429, 'TOO_MANY_ATTEMPTS');
    expectErrorShape(await signIn(owner.password, '192.0.2.50'), 429, 'TOO_MANY_ATTEMPTS');
    // A known address keeps its own limit.
    for (let i = 0; i < 2; i++) expect((await signIn('wrong-guess-3')).status).toBe(401);
    expectErrorShape(await signIn(owner.password), 429, 'TOO_MANY_ATTEMPTS');
    // A session refreshed somewhere makes that address known too (a device that stays signed in).
    const refreshed = await request('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: owner.refreshToken },
      headers: { 'x-forwarded-for': '192.0.2.99' },
    });
    expect(refreshed.status).toBe(200);
    expect((await signIn(owner.password, '192.0.2.99')).status).toBe(200);

    // A reset, from yet another address (the phone that opened the email), lifts every lockout.
    const reset = firstValueFrom(
      app.app.get(EventBus).pipe(
        ofType(PasswordResetRequestedEvent),
        filter((e) => e.email === owner.user.email),
      ),
    );
    await request('POST', '/api/v1/auth/password/forgot', { body: { email: owner.user.email } });
    const { resetToken } = await reset;
    const body = { token: resetToken, password: 'brand-new-9' };
    expect((await request('POST', '/api/v1/auth/password/reset', { body, headers: { 'x-forwarded-for': '198.51.100.200' } })).status).toBe(
      204,
    );
    expect((await signIn('brand-new-9', '203.0.113.7')).status).toBe(200);
    expect((await signIn('brand-new-9', '192.0.2.50')).status).toBe(200);
  });

  it('lets no more than the limit of parallel guesses through for one account', async () => {
    const app = await startTestApp({ ...db.env, RATE_LIMIT_AUTH_PER_ACCOUNT: '3' });
    apps.push(app);
    const request = httpClient(app.url);
    const victim = await signUpAndIn(request);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        request('POST', '/api/v1/auth/sign-in', { body: { email: victim.user.email, password: 'wrong-guess-1' } }),
      ),
    );
    expect(results.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(7);
  });

  it('sends the confirmation email again at most RATE_LIMIT_AUTH_PER_ACCOUNT times per 15 minutes per account', async () => {
    const app = await startTestApp({ ...db.env, RATE_LIMIT_AUTH_PER_ACCOUNT: '2' });
    apps.push(app);
    const request = httpClient(app.url);
    const [impatient, other] = [await signUpAndIn(request), await signUpAndIn(request)];
    const resend = (who: typeof impatient) => request('POST', '/api/v1/auth/confirm-email/resend', { token: who.accessToken });
    expect([(await resend(impatient)).status, (await resend(impatient)).status]).toEqual([202, 202]);
    const limited = await resend(impatient);
    expectErrorShape(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(800);
    expect((await resend(other)).status).toBe(202);
    // A confirmed address answers 409 however often it is asked: that is not counted.
    await app.app.get(DataSource).query(`UPDATE users SET email_confirmed_at = now() WHERE id = $1`, [other.user.id]);
    for (let i = 0; i < 3; i++) expectErrorShape(await resend(other), 409, 'EMAIL_ALREADY_CONFIRMED');
    const [{ n }] = await app.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM mail_log WHERE user_id = $1 AND template = 'confirm-email'`, [impatient.user.id]);
    expect(n).toBe(3); // the sign-up's and two more
  });

  it('limits auth calls per IP per minute with 429 and Retry-After', async () => {
    const app = await startTestApp({ ...db.env, RATE_LIMIT_AUTH_PER_IP: '4' });
    apps.push(app);
    const request = httpClient(app.url);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await request('POST', '/api/v1/auth/password/forgot', { body: { email: uniqueEmail() } })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 429]);
    const last = await request('POST', '/api/v1/auth/sign-in', { body: { email: uniqueEmail(), password: 'x' } });
    expectErrorShape(last, 429, 'RATE_LIMITED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // An IPv6 client holds its whole /64: a new address in it is no new budget; another /64 is.
    const forgot = (from: string) =>
      request('POST', '/api/v1/auth/password/forgot', { body: { email: uniqueEmail() }, headers: { 'x-forwarded-for': from } });
    const fromOneNetwork = [];
    for (let i = 1; i <= 5; i++) fromOneNetwork.push((await forgot(`2001:db8:1:2::${i}`)).status);
    expect(fromOneNetwork).toEqual([202, 202, 202, 202, 429]);
    expect((await forgot('2001:db8:1:3::1')).status).toBe(202);
  });

  it('shares the per-account count between instances through Redis', async () => {
    const prefix = uniqueRedisPrefix();
    sharedPrefixes.push(prefix);
    const env = {
      ...db.env,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      RATE_LIMIT_AUTH_PER_ACCOUNT: '2',
      RATE_LIMIT_AUTH_PER_IP: '1000',
    };
    const [one, two] = await Promise.all([startTestApp(env), startTestApp(env)]);
    apps.push(one, two);
    expect((await httpClient(one.url)('GET', '/health/ready')).body.dependencies.redis).toMatchObject({ status: 'up', mode: 'redis' });
    const victim = await signUpAndIn(httpClient(one.url));
    const wrong = { body: { email: victim.user.email, password: 'wrong-guess-1' } };
    expect((await httpClient(one.url)('POST', '/api/v1/auth/sign-in', wrong)).status).toBe(401);
    expect((await httpClient(two.url)('POST', '/api/v1/auth/sign-in', wrong)).status).toBe(401);
    expectErrorShape(
      await httpClient(one.url)('POST', '/api/v1/auth/sign-in', { body: { email: victim.user.email, password: victim.password } }),
      429,
      'TOO_MANY_ATTEMPTS',
    );
  });
});

describe('auth while Redis is unreachable', () => {
  it('keeps signing in and refreshing, counting limits in memory, instead of answering 500', async () => {
    const db = await createTestDatabase('postgres');
    const redis = await redisProxy(); // to the real Redis, which the test cuts
    const app = await startTestApp({ ...db.env, REDIS_URL: redis.url, RATE_LIMIT_AUTH_PER_ACCOUNT: '3' });
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      await redis.cut();

      const ready = await request('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.dependencies.redis).toMatchObject({ status: 'down', mode: 'redis' });

      const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } });
      expect(signIn.status).toBe(200);
      const refreshed = await request('POST', '/api/v1/auth/refresh', { body: { refreshToken: signIn.body.refreshToken } });
      expect(refreshed.status).toBe(200);
      // The per-account limit still holds, in this instance's memory.
      const wrong = { body: { email: account.user.email, password: 'wrong-guess-1' } };
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await request('POST', '/api/v1/auth/sign-in', wrong)).status);
      expect(answers).toEqual([401, 401, 401, 429]);
    } finally {
      await app.close();
      await db.dispose();
    }
  });
});

describe('auth while Redis stalls (connected, but answering nothing)', () => {
  it('signs in within seconds, counting limits in memory, rather than waiting for Redis', async () => {
    const db = await createTestDatabase('postgres');
    const redis = await redisProxy(); // to the real Redis, which the test stalls
    const app = await startTestApp({ ...db.env, REDIS_URL: redis.url });
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      redis.stall();
      const signIn = async () =>
        (await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } })).status;
      // The auth limits' commands the app has sent Redis so far, answered or not (each names its key).
      const limitCommands = () => redis.sent().toString('latin1').split(`${app.config.redis.prefix}rl:auth:`).length - 1;
      const before = limitCommands();
      const started = Date.now();
      expect(await signIn()).toBe(200); // after its Redis commands time out (1 s), counted in memory
      expect(limitCommands()).toBeGreaterThan(before); // it did ask the stalled Redis
      const afterFirst = limitCommands();
      // Found stalled once, Redis is left alone for a while: each command would wait out its 1 s timeout.
      expect([await signIn(), await signIn(), await signIn()]).toEqual([200, 200, 200]);
      expect(limitCommands()).toBe(afterFirst);
      expect(Date.now() - started).toBeLessThan(15_000); // only against a sign-in that hangs on Redis: about 1 s is normal
    } finally {
      await app.close();
      await redis.cut();
      await db.dispose();
    }
  });

  it('refuses to start against a REDIS_URL where nothing listens, or naming a database Redis does not have, saying why', async () => {
    const nobody = createServer();
    await new Promise<void>((resolve) => nobody.listen(0, '127.0.0.1', resolve));
    const { port } = nobody.address() as AddressInfo;
    await new Promise<void>((resolve) => nobody.close(() => resolve()));
    const db = await createTestDatabase('postgres');
    try {
      await expect(startTestApp({ ...db.env, REDIS_URL: `redis://127.0.0.1:${port}` })).rejects.toThrow(
        /^REDIS_URL is unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+ /,
      );
      const redisUrl = TEST_REDIS_URL;
      const redis = new Redis(redisUrl);
      const [, databases] = (await redis.config('GET', 'databases').finally(() => redis.quit())) as [string, string];
      await expect(startTestApp({ ...db.env, REDIS_URL: `${redisUrl}/${Number(databases)}` })).rejects.toThrow(
        /^REDIS_URL names a database this Redis does not have: .*DB index is out of range/,
      );
    } finally {
      await db.dispose();
    }
  });

  it('refuses to start against a REDIS_URL that accepts connections and never answers, naming it', async () => {
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const db = await createTestDatabase('postgres');
    try {
      await expect(startTestApp({ ...db.env, REDIS_URL: `redis://127.0.0.1:${port}` })).rejects.toThrow(/^REDIS_URL is unreachable: /);
    } finally {
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
        for (const socket of held) socket.destroy();
      });
      await db.dispose();
    }
  });
});

describe('auth with the notify module switched off', () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,health' });
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('answers a path of a module it runs without with a 404 that names the module, and other unknown paths as before', async () => {
    const request = httpClient(app.url);
    const { accessToken: token } = await signUpAndIn(request);
    const chatId = '0190a6b2-0000-7000-8000-000000000000';
    for (const [method, path, module] of [
      ['GET', '/api/v1/chats', 'chats'],
      ['POST', '/api/v1/chats', 'chats'],
      ['PATCH', `/api/v1/chats/${chatId}/members/${chatId}`, 'chats'],
      ['GET', `/api/v1/chats/${chatId}/messages?limit=1`, 'messages'],
      ['POST', `/api/v1/chats/${chatId}/read`, 'messages'],
    ] as const) {
      const response = await request(method, path, { token });
      expectErrorShape(response, 404, 'NOT_FOUND');
      expect(response.body.message).toBe(
        `${path.split('?')[0]} is served by the ${module} module, which this server runs without (MODULES).`,
      );
    }
    const unknown = await request('GET', '/api/v1/chatroom', { token });
    expectErrorShape(unknown, 404, 'NOT_FOUND');
    expect(unknown.body.message).toBe('Cannot GET /api/v1/chatroom: no such route (the routes are listed at /api/docs)');
    // A module that runs answers its own paths: a 405 for a method it does not take, not the module.
    expectErrorShape(await request('DELETE', '/api/v1/users/me', { token }), 405, 'METHOD_NOT_ALLOWED');

    // Outside the API's prefix too: the socket needs auth, /health the health module.
    const healthOnly = await startTestApp({ ...db.env, MODULES: 'health' });
    const noAuth = await startTestApp({ ...db.env, MODULES: 'auth,users' });
    try {
      for (const [url, path, module] of [
        [healthOnly.url, '/ws', 'auth'],
        [noAuth.url, '/health/ready', 'health'],
      ] as const) {
        const response = await httpClient(url)('GET', path);
        expectErrorShape(response, 404, 'NOT_FOUND');
        expect(response.body.message).toBe(`${path} is served by the ${module} module, which this server runs without (MODULES).`);
      }
    } finally {
      await healthOnly.close();
      await noAuth.close();
    }
  });

  it('creates accounts already confirmed', async () => {
    const result = await httpClient(app.url)('POST', '/api/v1/auth/sign-up', {
      body: { email: uniqueEmail(), password: 'secret123', name: 'No Mail' },
    });
    expect(result.status).toBe(201);
    expect(result.body.emailConfirmed).toBe(true);
  });

  it('answers a request for the confirmation email again with 409 for an account made confirmed, 503 MAIL_DISABLED for one that is not', async () => {
    const request = httpClient(app.url);
    const account = await signUpAndIn(request);
    const resend = () => request('POST', '/api/v1/auth/confirm-email/resend', { token: account.accessToken });
    expectErrorShape(await resend(), 409, 'EMAIL_ALREADY_CONFIRMED');
    // An account made while mail was on, and never confirmed.
    await app.app.get(DataSource).query(`UPDATE users SET email_confirmed_at = NULL WHERE id = $1`, [account.user.id]);
    expectErrorShape(await resend(), 503, 'MAIL_DISABLED');
  });

  it('answers forgot-password with 503 MAIL_DISABLED, logged as a warning (a refusal by configuration, which anyone can ask for)', async () => {
    const error = jest.spyOn(AppLogger.prototype, 'error');
    const warn = jest.spyOn(AppLogger.prototype, 'warn');
    try {
      expectErrorShape(
        await httpClient(app.url)('POST', '/api/v1/auth/password/forgot', { body: { email: uniqueEmail() } }),
        503,
        'MAIL_DISABLED',
      );
      const about = (calls: unknown[][]) => calls.filter(([line]) => (line as { path?: string })?.path === '/api/v1/auth/password/forgot');
      await eventuallyTrue(() => about(warn.mock.calls).length === 1);
      expect(about(error.mock.calls)).toEqual([]);
    } finally {
      error.mockRestore();
      warn.mockRestore();
    }
  });
});

describe('auth cookies outside LOCAL', () => {
  it('marks both cookies Secure under APP_ENV=PRODUCTION', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp({
      ...db.env,
      APP_ENV: 'PRODUCTION',
      PUBLIC_URL: 'https://chat.example.com',
      JWT_ACCESS_SECRET: 'a'.repeat(40),
      JWT_REFRESH_SECRET: 'r'.repeat(40),
    });
    try {
      const request = httpClient(app.url);
      const email = uniqueEmail('secure');
      expect((await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'secret123', name: 'Secure' } })).status).toBe(201);
      const result = await request('POST', '/api/v1/auth/sign-in', { body: { email, password: 'secret123' } });
      expect(result.status).toBe(200);
      const cookies = result.headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      for (const cookie of cookies) expect(cookie).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    } finally {
      await app.close();
      await db.dispose();
    }
  });
});
