import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { signUpAndIn, uniqueEmail } from './support/accounts.js';
import { expectErrorShape, httpClient, type HttpResult } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { closedSocket, openConnection } from './support/net.js';
import { routesWithErrorCodes } from '../src/common/openapi/error-responses.js';

describe('the HTTP foundation', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp({ ...db.env, CORS_ORIGINS: 'https://app.example.com' });
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('answers /health with 200 ok', async () => {
    const result = await request('GET', '/health');
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ status: 'ok' });
  });

  it('gives every response a request id, keeping a well-formed one the client sent', async () => {
    const made = await request('GET', '/health');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await request('GET', '/health', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc.123');
    const replaced = await request('GET', '/health', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends the security headers on every answer, and keeps API answers out of caches', async () => {
    const { accessToken } = await signUpAndIn(request);
    const me = await request('GET', '/api/v1/users/me', { token: accessToken });
    const refused = await request('GET', '/api/v1/users/me');
    const docs = await request('GET', '/api/docs');
    const page = await request('GET', '/ui/');
    const answers = { me, refused, docs, page, health: await request('GET', '/health') };
    for (const [name, answer] of Object.entries(answers)) {
      expect({
        name,
        status: answer.status < 500,
        headers: ['x-content-type-options', 'x-frame-options', 'referrer-policy'].map((h) => answer.headers.get(h)),
      }).toEqual({
        name,
        status: true,
        headers: ['nosniff', 'DENY', 'no-referrer'],
      });
      // PUBLIC_URL is http here: no HSTS (see the https case below).
      expect(answer.headers.get('strict-transport-security')).toBeNull();
    }
    const shouted = await request('GET', '/API/V1/USERS/ME', { token: accessToken });
    expect(shouted.status).toBe(200); // Express routes paths in any case
    expect([me, refused, shouted].map((a) => a.headers.get('cache-control'))).toEqual(['no-store', 'no-store', 'no-store']);
    // Not cached, so no ETag: a conditional GET gets the answer again, not a 304.
    expect(me.headers.get('etag')).toBeNull();
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('sends HSTS when PUBLIC_URL is https', async () => {
    const secure = await startTestApp({ ...db.env, PUBLIC_URL: 'https://chat.example.com' });
    try {
      const answer = await httpClient(secure.url)('GET', '/health');
      expect(answer.headers.get('strict-transport-security')).toBe('max-age=15552000');
    } finally {
      await secure.close();
    }
  });

  it('answers an unknown route with 404 in the error shape', async () => {
    expectErrorShape(await request('GET', '/api/v1/nothing-here'), 404, 'NOT_FOUND');
    expectErrorShape(await request('PUT', '/api/v1/nothing-here'), 404, 'NOT_FOUND');
    // Outside the API's prefix too: a file the page does not have, a path nothing serves.
    for (const path of ['/ui/missing.js', '/api/docs/missing', '/nothing-here'])
      expectErrorShape(await request('GET', path), 404, 'NOT_FOUND');
  });

  it('answers a method a path does not take with 405 METHOD_NOT_ALLOWED and the methods it takes in Allow', async () => {
    const me = await request('PUT', '/api/v1/users/me', { body: { name: 'Nobody' } });
    expectErrorShape(me, 405, 'METHOD_NOT_ALLOWED');
    // GET /users/me, PATCH /users/me, and GET /users/:id, whose :id matches "me" too.
    expect(me.headers.get('allow')).toBe('GET, HEAD, PATCH, OPTIONS');
    expect(me.body.message).toContain('GET, HEAD, PATCH, OPTIONS');
    // OPTIONS, listed in Allow, is answered on every path (by the CORS middleware).
    expect((await request('OPTIONS', '/api/v1/users/me')).status).toBe(204);

    const chatPath = '/api/v1/chats/9a1c1a52-6c4e-4a3c-8f0e-2b7c1d9e4f10/messages';
    const messages = await request('DELETE', `${chatPath}?limit=5`);
    expectErrorShape(messages, 405, 'METHOD_NOT_ALLOWED');
    expect(messages.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    // A method the path takes is not judged here: it reaches the route (and its guard).
    expectErrorShape(await request('GET', chatPath), 401, 'UNAUTHENTICATED');

    // Outside the API's prefix too: the page's configuration, the root's redirect, the docs, the
    // health probes (where Nest's not-found handler is mounted for every method).
    for (const path of ['/ui/config.json', '/', '/api/docs-json', '/health', '/health/ready']) {
      const refused = await request('POST', path, { body: {} });
      expectErrorShape(refused, 405, 'METHOD_NOT_ALLOWED');
      expect(refused.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    }
  });

  it('answers a plain GET /ws (no WebSocket upgrade) with 426 UPGRADE_REQUIRED and Upgrade: websocket', async () => {
    const plain = await request('GET', '/ws');
    expectErrorShape(plain, 426, 'UPGRADE_REQUIRED');
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(plain.body.message).toContain('WebSocket client');
    expectErrorShape(await request('POST', '/ws', { body: {} }), 405, 'METHOD_NOT_ALLOWED');
  });

  it('answers a WebSocket upgrade to any other path (a trailing slash) with 404 naming /ws, and takes /ws whatever the Host', async () => {
    const { port } = new URL(app.url);
    const upgrade = (path: string, host = 'x') =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () =>
          socket.write(
            `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
              `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          ),
        );
        let received = '';
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString();
          if (received.startsWith('HTTP/1.1 101')) socket.destroy(); // upgraded: enough
        });
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
    for (const path of ['/ws/', '/WS', '/api/v1/users/me']) {
      const answer = await upgrade(path);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
      expect(JSON.parse(answer.split('\r\n\r\n')[1])).toEqual({
        statusCode: 404,
        error: 'Not Found',
        code: 'NOT_FOUND',
        message: `There is no WebSocket endpoint at ${path}; connect to /ws.`,
      });
    }
    expect((await upgrade('/ws', 'a b')).split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect((await upgrade('/ws?x=1')).split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('answers a path parameter with a broken percent-encoding with 400 VALIDATION_FAILED saying so', async () => {
    const account = await signUpAndIn(request, 'Percent');
    const broken = await request('GET', '/api/v1/users/%E0%A4%A', { token: account.accessToken });
    expectErrorShape(broken, 400, 'VALIDATION_FAILED');
    expect(broken.body.message).toBe(
      'The path holds a malformed percent-encoding ("%E0%A4%A"): each % must be followed by two hex digits, and the bytes must form UTF-8.',
    );
  });

  it('answers a query with a broken percent-encoding the same way, where a well-formed one is searched for', async () => {
    const account = await signUpAndIn(request, 'Query Percent');
    for (const [query, shown] of [
      ['query=%E0%A4%A', 'query=%E0%A4%A'],
      ['query=%FF', 'query=%FF'],
      ['limit=5&query=%ED%A0%80', 'query=%ED%A0%80'], // a lone surrogate's bytes
      ['%zz=1', '%zz=1'],
    ]) {
      const broken = await request('GET', `/api/v1/users?${query}`, { token: account.accessToken });
      expectErrorShape(broken, 400, 'VALIDATION_FAILED');
      expect(broken.body.message).toBe(
        `The query holds a malformed percent-encoding ("${shown}"): each % must be followed by two hex digits, and the bytes must form UTF-8.`,
      );
    }
    const found = await request('GET', `/api/v1/users?query=${encodeURIComponent('Query Perc')}+&limit=5`, { token: account.accessToken });
    expect(found.status).toBe(200);
    expect(found.body.items.map((u: { id: string }) => u.id)).toContain(account.user.id);
    // Health probes take any query, as they were.
    expect((await request('GET', '/health?x=%E0')).status).toBe(200);
  });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    expectErrorShape(await request('POST', '/api/v1/auth/sign-in', { raw: '{"email": ' }), 400, 'MALFORMED_JSON');
  });

  it("answers what Node's HTTP parser refuses (headers over 16 KiB, broken framing) in the error shape too", async () => {
    const server = app.app.getHttpServer() as http.Server;
    const raw = async (text: string) => {
      // Written, not ended, and left half-open when the server ends its side.
      const { client, accepted } = await openConnection(server, { allowHalfOpen: true });
      try {
        const answer = await new Promise<string>((resolve, reject) => {
          let received = '';
          client.on('data', (chunk: Buffer) => (received += chunk.toString()));
          client.on('end', () => resolve(received));
          client.on('error', reject);
          client.write(text);
        });
        // The server closes the connection itself, rather than keep it for as long as the client
        // does (the bound only keeps a server that never does from holding the test until its timeout).
        let bound: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          closedSocket(accepted).then(() => true),
          new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), 10_000))),
        ]).finally(() => clearTimeout(bound));
        expect(closed).toBe(true);
        return answer;
      } finally {
        client.destroy();
      }
    };
    const parse = (answer: string) => ({ status: answer.split(' ')[1], body: JSON.parse(answer.split('\r\n\r\n')[1]) });
    const big = parse(await raw(`GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(big).toEqual({
      status: '431',
      body: {
        statusCode: 431,
        error: 'Request Header Fields Too Large',
        code: 'HEADERS_TOO_LARGE',
        message: expect.stringMatching(/16 KiB/),
      },
    });
    const broken = parse(await raw('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'));
    expect(broken).toEqual({ status: '400', body: expect.objectContaining({ statusCode: 400, code: 'MALFORMED_REQUEST' }) });
  });

  it('answers JSON that is not an object (null, a string, an array) with 400 saying a body is an object', async () => {
    for (const raw of ['null', '"text"', '42', '[]', '[{"email":"a@example.com"}]']) {
      const refused = await request('POST', '/api/v1/auth/sign-in', { raw });
      expectErrorShape(refused, 400, 'VALIDATION_FAILED');
      expect(refused.body.message).toMatch(/^The request body must be a JSON object/);
    }
  });

  it('says a missing field is required, rather than list every rule nothing fails', async () => {
    const result = await request('POST', '/api/v1/auth/sign-up', { body: { password: 'passw0rd!', name: 'Someone' } });
    expectErrorShape(result, 400, 'VALIDATION_FAILED');
    expect(result.body).toMatchObject({ message: 'email is required', details: [{ field: 'email', message: 'email is required' }] });
    const typed = await request('POST', '/api/v1/auth/sign-up', { body: { email: 42, password: 'passw0rd!', name: 'Someone' } });
    expect(typed.body.details).toEqual([{ field: 'email', message: 'email must be a string' }]);
  });

  it('takes JSON in UTF-8 only: another charset, UTF-16 too, is 415 UNSUPPORTED_ENCODING', async () => {
    const signIn = (charset: string, raw: Buffer) =>
      request('POST', '/api/v1/auth/sign-in', { raw, headers: { 'content-type': `application/json; charset=${charset}` } });
    const json = JSON.stringify({ email: 'nobody@example.com', password: 'passw0rd-x' });
    for (const [charset, encoding] of [
      ['utf-16le', 'utf16le'],
      ['latin1', 'latin1'],
    ] as const) {
      const refused = await signIn(charset, Buffer.from(json, encoding));
      expectErrorShape(refused, 415, 'UNSUPPORTED_ENCODING');
      expect(refused.body.message).toContain('UTF-8');
    }
    for (const charset of ['utf-8', 'UTF-8']) expectErrorShape(await signIn(charset, Buffer.from(json)), 401, 'INVALID_CREDENTIALS');
  });

  it('answers a body it cannot read with a 4xx in the error shape, not a 500', async () => {
    const garbled = await request('POST', '/api/v1/auth/sign-in', {
      raw: Buffer.from('{"email": "x"} is not gzip'),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expectErrorShape(garbled, 400, 'BAD_REQUEST');
    expect(garbled.body.message).toMatch(/^The request body could not be read/);
  });

  it('lets a page on an allowed origin read the error when its body is refused', async () => {
    const origin = app.config.http.publicUrl;
    const refused = await request('POST', '/api/v1/auth/sign-in', { raw: '{"email": ', headers: { origin } });
    expectErrorShape(refused, 400, 'MALFORMED_JSON');
    expect(refused.headers.get('access-control-allow-origin')).toBe(origin);
    expect(refused.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('answers a CORS preflight from an allowed origin with 204 and its headers, from any other with 403 ORIGIN_NOT_ALLOWED and none', async () => {
    const preflight = (origin: string) =>
      request('OPTIONS', '/api/v1/users/me', {
        headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const refused = await preflight('https://evil.example.com');
    expectErrorShape(refused, 403, 'ORIGIN_NOT_ALLOWED');
    expect(refused.body.message).toBe('Pages at https://evil.example.com may not call this API; list the origin in CORS_ORIGINS.');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a write made with the cookies from a page of another origin (403 ORIGIN_NOT_ALLOWED), and changes nothing', async () => {
    const account = await signUpAndIn(request, 'Cookie Owner');
    const cookie = `access_token=${account.accessToken}`;
    const rename = (name: string, headers: Record<string, string>) => request('PATCH', '/api/v1/users/me', { body: { name }, headers });
    const refused = await rename('Hijacked', { cookie, origin: 'https://evil.example.com' });
    expectErrorShape(refused, 403, 'ORIGIN_NOT_ALLOWED');
    expect(refused.body.message).toContain('https://evil.example.com');
    // The server's own origin, one in CORS_ORIGINS, no Origin at all (curl), and a bearer token all pass.
    expect((await rename('Own page', { cookie, origin: app.url })).status).toBe(200);
    expect((await rename('Listed page', { cookie, origin: 'https://app.example.com' })).status).toBe(200);
    expect((await rename('Curl', { cookie })).status).toBe(200);
    const bearer = { authorization: `Bearer ${account.accessToken}`, origin: 'https://evil.example.com' };
    expect((await rename('Bearer', bearer)).status).toBe(200);
    // An Authorization header that is not a bearer token leaves the cookie to authenticate: checked.
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Token abc'])
      expectErrorShape(await rename('Hijacked', { cookie, authorization, origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    // Reads are not writes: a foreign page cannot read the answer anyway (CORS).
    expect((await request('GET', '/api/v1/users/me', { headers: { cookie, origin: 'https://evil.example.com' } })).body.name).toBe(
      'Bearer',
    );
  });

  it('answers a body that is not JSON with 415 UNSUPPORTED_MEDIA_TYPE and changes nothing, on routes that read a JSON body, when there is one', async () => {
    const account = await signUpAndIn(request, 'Plain Texter');
    const rename = (raw: string | FormData | undefined, headers: Record<string, string>) =>
      request('PATCH', '/api/v1/users/me', { raw, headers, token: account.accessToken });
    const json = JSON.stringify({ name: 'Changed' });
    const cases: Array<[string | FormData, Record<string, string>, RegExp]> = [
      [json, { 'content-type': 'text/plain' }, /^The body is text\/plain; send it as JSON/],
      ['name=Changed', { 'content-type': 'application/x-www-form-urlencoded' }, /^The body is application\/x-www-form-urlencoded;/],
      [Object.assign(new FormData(), { name: 'Changed' }), {}, /^The body is multipart\/form-data;/],
    ];
    for (const [raw, headers, message] of cases) {
      const refused = await rename(raw, headers);
      expectErrorShape(refused, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(refused.body.message).toMatch(message);
    }
    // A body with no Content-Type at all (a Buffer: fetch adds none).
    const untyped = await request('PATCH', '/api/v1/users/me', { raw: Buffer.from(json), token: account.accessToken });
    expectErrorShape(untyped, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(untyped.body.message).toMatch(/^The body has no Content-Type/);
    expect((await request('GET', '/api/v1/users/me', { token: account.accessToken })).body.name).toBe('Plain Texter');
    // JSON with a charset passes; so does a POST without a body, whatever its Content-Type says.
    expect((await rename(json, { 'content-type': 'application/json; charset=utf-8' })).body.name).toBe('Changed');
    const empty = await request('POST', '/api/v1/auth/refresh', { headers: { 'content-type': 'text/plain' } });
    expectErrorShape(empty, 401, 'UNAUTHENTICATED');
    // Chunked: typed, it is judged; untyped (perhaps empty), it goes on to validation as before.
    const auth = { authorization: `Bearer ${account.accessToken}` };
    const chunkedText = await rawRequest(
      app.url,
      'PATCH',
      '/api/v1/users/me',
      { ...auth, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      json,
    );
    expect({ status: chunkedText.status, code: chunkedText.body.code }).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const chunkedEmpty = await rawRequest(app.url, 'POST', '/api/v1/auth/refresh', { 'transfer-encoding': 'chunked' }, '');
    expect({ status: chunkedEmpty.status, code: chunkedEmpty.body.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // A body that is not JSON, to a route that reads no JSON body, is not judged: a GET, and sign-out (it takes what JSON it gets).
    const get = await rawRequest(app.url, 'GET', '/api/v1/users/me', { ...auth, 'content-type': 'text/plain' }, 'hello');
    expect({ status: get.status, name: get.body.name }).toEqual({ status: 200, name: 'Changed' });
    const signOut = await request('POST', '/api/v1/auth/sign-out', {
      token: account.accessToken,
      raw: 'bye',
      headers: { 'content-type': 'text/plain' },
    });
    expect(signOut.status).toBe(204);
  });

  it('answers a JSON body over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const raw = JSON.stringify({ email: 'x@example.com', password: 'x'.repeat(1024 * 1024) });
    expectErrorShape(await request('POST', '/api/v1/auth/sign-in', { raw }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers a body declared larger than the limit at once, without waiting for it, and closes the connection', async () => {
    const { port } = new URL(app.url);
    const { accessToken } = await signUpAndIn(request);
    /** Sends the head and one byte of the body, then waits for the answer (never sending the rest). */
    const declaring = (head: string) =>
      new Promise<{ status: string; close: string | undefined; body: { code: string } }>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`${head}Content-Length: 999999999\r\n\r\n{`));
        let answer = '';
        socket.on('data', (chunk: Buffer) => {
          answer += chunk.toString();
          const [headers, body] = answer.split('\r\n\r\n');
          const length = Number(/content-length: (\d+)/i.exec(headers)?.[1]);
          if (body === undefined || Buffer.byteLength(body) < length) return;
          socket.destroy();
          resolve({ status: headers.split(' ')[1], close: /^connection: (.*)$/im.exec(headers)?.[1], body: JSON.parse(body) });
        });
        socket.on('error', reject);
      });
    const json = await declaring('POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n');
    expect(json).toEqual({ status: '413', close: 'close', body: expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }) });
    const avatar = await declaring(
      `PUT /api/v1/users/me/avatar HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${accessToken}\r\nContent-Type: multipart/form-data; boundary=b\r\n`,
    );
    expect(avatar).toEqual({ status: '413', close: 'close', body: expect.objectContaining({ code: 'FILE_TOO_LARGE' }) });
  });

  it('lets a client that sends its whole body before it reads the answer (fetch) see the 413, not a reset', async () => {
    const { accessToken } = await signUpAndIn(request);
    const form = new FormData();
    form.append('file', new Blob([Buffer.alloc(6 * 1024 * 1024, 1)], { type: 'image/png' }), 'big.png');
    const avatar = await fetch(`${app.url}/api/v1/users/me/avatar`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${accessToken}` },
      body: form,
    });
    expect({ status: avatar.status, code: ((await avatar.json()) as { code: string }).code }).toEqual({
      status: 413,
      code: 'FILE_TOO_LARGE',
    });
    const json = await fetch(`${app.url}/api/v1/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', password: 'x'.repeat(4 * 1024 * 1024) }),
    });
    expect({ status: json.status, code: ((await json.json()) as { code: string }).code }).toEqual({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  it('answers a chunked body once it passes the limit, without waiting for its end, and closes the connection', async () => {
    const { port } = new URL(app.url);
    const { accessToken } = await signUpAndIn(request);
    /** Sends the head, then `bytes` of body in chunks, never the last chunk; waits up to 3 s for an answer after that. */
    const streaming = (head: string, bytes: number) =>
      new Promise<{ status: string; close: string | undefined; code: string; closed: boolean } | 'no answer'>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        let answer = '';
        let timer: NodeJS.Timeout | undefined;
        const settle = (closed: boolean) => {
          const [headers, body] = answer.split('\r\n\r\n');
          clearTimeout(timer);
          socket.destroy();
          if (!body) return resolve('no answer');
          resolve({ status: headers.split(' ')[1], close: /^connection: (.*)$/im.exec(headers)?.[1], code: JSON.parse(body).code, closed });
        };
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('end', () => settle(true));
        socket.on('error', reject);
        socket.on('connect', async () => {
          socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
          const chunk = Buffer.alloc(64 * 1024, 'a');
          for (let sent = 0; sent < bytes && !socket.destroyed; sent += chunk.length) {
            if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) await new Promise((r) => socket.once('drain', r));
          }
          timer = setTimeout(() => settle(false), 3000);
        });
      });
    const json = await streaming('POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n', 1.5 * 1024 * 1024);
    expect(json).toEqual({ status: '413', close: 'close', code: 'PAYLOAD_TOO_LARGE', closed: true });
    const compressed = await streaming(
      'POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n',
      1.5 * 1024 * 1024,
    );
    expect(compressed).toEqual({ status: '413', close: 'close', code: 'PAYLOAD_TOO_LARGE', closed: true });
    const avatar = await streaming(
      `PUT /api/v1/users/me/avatar HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${accessToken}\r\nContent-Type: multipart/form-data; boundary=b\r\n`,
      6 * 1024 * 1024,
    );
    expect(avatar).toEqual({ status: '413', close: 'close', code: 'FILE_TOO_LARGE', closed: true });

    // A chunked body within the limit is read as ever.
    const { email, password } = { email: uniqueEmail(), password: 'passw0rd!' };
    await request('POST', '/api/v1/auth/sign-up', { body: { email, password, name: 'Chunked' } });
    const signIn = await new Promise<{ status: number; body: { user?: { email: string } } }>((resolve, reject) => {
      const sent = http.request(
        `${app.url}/api/v1/auth/sign-in`,
        { method: 'POST', headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      sent.on('error', reject);
      const json = JSON.stringify({ email, password });
      sent.write(json.slice(0, 10));
      sent.end(json.slice(10));
    });
    expect(signIn).toMatchObject({ status: 200, body: { user: { email } } });
  });

  it('rejects unknown body fields with 400 and names them', async () => {
    const result = await request('POST', '/api/v1/auth/sign-up', {
      body: { email: 'someone@example.com', password: 'passw0rd!', name: 'Someone', isAdmin: true },
    });
    expectErrorShape(result, 400, 'VALIDATION_FAILED');
    expect(result.body.details).toEqual([{ field: 'isAdmin', message: 'property isAdmin should not exist' }]);
  });

  it('refuses a body of more than a thousand field names before validating it, and lists at most twenty problems', async () => {
    const fields = (n: number, prefix = 'f') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 0]));
    const account = await signUpAndIn(request, 'Many Fields');
    // 80,000 unknown keys, under 1 MiB: once the work of seconds for class-transformer, the event loop held.
    const flood = await request('POST', '/api/v1/auth/sign-in', {
      body: { email: account.user.email, password: account.password, ...fields(80_000) },
    });
    expectErrorShape(flood, 400, 'VALIDATION_FAILED');
    expect(flood.body.message).toBe('The body holds more than 1000 field names in all; no request takes that many');
    expect(flood.body.details).toEqual([{ field: 'body', message: flood.body.message }]);
    // Counted in every object of the body, nested ones too.
    const nested = await request('PATCH', '/api/v1/users/me', {
      token: account.accessToken,
      body: { name: { a: fields(600), b: fields(600) } },
    });
    expectErrorShape(nested, 400, 'VALIDATION_FAILED');
    expect(nested.body.message).toMatch(/more than 1000 field names/);
    // Under the bound, every unknown field is refused, twenty of them named.
    const many = await request('PATCH', '/api/v1/users/me', { token: account.accessToken, body: { name: 'Still Me', ...fields(500) } });
    expectErrorShape(many, 400, 'VALIDATION_FAILED');
    expect(many.body.details).toHaveLength(20);
    expect(many.body.details[0]).toEqual({ field: 'f0', message: 'property f0 should not exist' });
    expect(many.body.message).toMatch(/^500 fields are invalid: property f0 should not exist; .*; and 480 more$/);
    const stray = await request('POST', '/api/v1/auth/confirm-email/resend', { token: account.accessToken, body: fields(900) });
    expectErrorShape(stray, 400, 'VALIDATION_FAILED');
    expect(stray.body.details).toHaveLength(20);
    // Nothing changed.
    expect((await request('GET', '/api/v1/users/me', { token: account.accessToken })).body.name).toBe('Many Fields');
  });

  it('refuses query parameters a route does not take (400, naming them), as unknown body fields are', async () => {
    const account = await signUpAndIn(request, 'No Query');
    const me = await request('GET', '/api/v1/users/me?limit=5&x=1', { token: account.accessToken });
    expectErrorShape(me, 400, 'VALIDATION_FAILED');
    expect(me.body.message).toBe('GET /api/v1/users/me takes no query parameters; leave out "limit", "x".');
    expect(me.body.details).toEqual([
      { field: 'limit', message: 'property limit should not exist' },
      { field: 'x', message: 'property x should not exist' },
    ]);
    // Named parameters are taken (an avatar's version), others not.
    const avatar = await request('GET', `/api/v1/users/${account.user.id}/avatar?v=1&size=64`, { token: account.accessToken });
    expectErrorShape(avatar, 400, 'VALIDATION_FAILED');
    expect(avatar.body.details).toEqual([{ field: 'size', message: 'property size should not exist' }]);
    expectErrorShape(
      await request('GET', `/api/v1/users/${account.user.id}/avatar?v=1`, { token: account.accessToken }),
      404,
      'AVATAR_NOT_FOUND',
    );
    // A query DTO's routes take its properties, and say which when refusing another, token or not.
    const misspelt = await request('GET', '/api/v1/chats?limt=5', { token: account.accessToken });
    expectErrorShape(misspelt, 400, 'VALIDATION_FAILED');
    expect(misspelt.body.message).toBe('GET /api/v1/chats takes only limit, cursor as query parameters; leave out "limt".');
    expect(misspelt.body.details).toEqual([{ field: 'limt', message: 'property limt should not exist' }]);
    const chatId = '00000000-0000-4000-8000-000000000000';
    const history = await request('GET', `/api/v1/chats/${chatId}/messages?limit=5&since=3`);
    expectErrorShape(history, 400, 'VALIDATION_FAILED');
    expect(history.body.message).toMatch(
      /^GET \/api\/v1\/chats\/[-0-9a-f]+\/messages takes only .*\bafter\b.* as query parameters; leave out "since"\.$/,
    );
    expectErrorShape(
      await request('GET', `/api/v1/users?query=a&limit=5&sort=name`, { token: account.accessToken }),
      400,
      'VALIDATION_FAILED',
    );
    expect((await request('GET', `/api/v1/users?query=a&limit=5`, { token: account.accessToken })).status).toBe(200);
    expect((await request('GET', '/api/v1/chats?limit=5', { token: account.accessToken })).status).toBe(200);
    // What takes any: health probes (a monitor's cache-buster), and sign-out (nothing keeps anyone signed in).
    expect((await request('GET', '/health?probe=1')).status).toBe(200);
    expect((await request('POST', '/api/v1/auth/sign-out?_=1', { token: account.accessToken })).status).toBe(204);
    expectErrorShape(await request('GET', '/api/v1/users/me', { token: account.accessToken }), 401, 'SESSION_REVOKED');
  });

  it('refuses a JSON body with fields on a route that takes none (400, naming them), changing nothing; {} passes, and sign-out takes anything', async () => {
    const account = await signUpAndIn(request, 'No Body');
    const group = await request('POST', '/api/v1/chats', { token: account.accessToken, body: { type: 'group', title: `G ${Date.now()}` } });

    const retargeted = await request('POST', '/api/v1/auth/confirm-email/resend', {
      token: account.accessToken,
      body: { email: 'other@example.com' },
    });
    expectErrorShape(retargeted, 400, 'VALIDATION_FAILED');
    expect(retargeted.body.message).toBe('POST /api/v1/auth/confirm-email/resend takes no body; leave it out.');
    expect(retargeted.body.details).toEqual([{ field: 'email', message: 'property email should not exist' }]);
    const forced = await request('DELETE', `/api/v1/chats/${group.body.id}`, { token: account.accessToken, body: { force: true } });
    expectErrorShape(forced, 400, 'VALIDATION_FAILED');
    expectErrorShape(
      await request('DELETE', `/api/v1/chats/${group.body.id}`, {
        token: account.accessToken,
        raw: '[1]',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'VALIDATION_FAILED',
    );
    const auth = { authorization: `Bearer ${account.accessToken}`, 'content-type': 'application/json' };
    const get = await rawRequest(app.url, 'GET', `/api/v1/chats/${group.body.id}`, auth, '{"x":1}');
    expect({ status: get.status, code: get.body.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await request('GET', `/api/v1/chats/${group.body.id}`, { token: account.accessToken })).status).toBe(200);

    expect((await request('DELETE', `/api/v1/chats/${group.body.id}`, { token: account.accessToken, body: {} })).status).toBe(204);
    expect((await request('POST', '/api/v1/auth/sign-out', { token: account.accessToken, body: { everywhere: true } })).status).toBe(204);
    expectErrorShape(await request('GET', '/api/v1/users/me', { token: account.accessToken }), 401, 'SESSION_REVOKED');
  });

  it('serves the OpenAPI document with bearer and cookie auth declared, and the Swagger UI', async () => {
    const doc = await request('GET', '/api/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      cookie: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'access_token' }),
    });
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/health', '/health/ready']));
    // Unknown body fields are refused, and every JSON body's schema says so.
    const bodies = Object.values(doc.body.paths as Record<string, Record<string, { requestBody?: any }>>)
      .flatMap((item) => Object.values(item))
      .map((operation) => operation.requestBody?.content?.['application/json']?.schema)
      .flatMap((schema) => (schema?.oneOf ?? [schema]).map((one: { $ref?: string } | undefined) => one?.$ref))
      .filter((ref): ref is string => typeof ref === 'string');
    // A chat's two shapes are told apart by `type`, each with what it requires.
    const createChat = doc.body.paths['/api/v1/chats'].post.requestBody.content['application/json'].schema;
    expect(createChat.discriminator).toEqual({
      propertyName: 'type',
      mapping: { direct: '#/components/schemas/CreateDirectChatBody', group: '#/components/schemas/CreateGroupChatBody' },
    });
    expect(doc.body.components.schemas.CreateDirectChatBody.required).toEqual(['type', 'userId']);
    expect(doc.body.components.schemas.CreateGroupChatBody.required).toEqual(['type', 'title']);
    expect(JSON.stringify(doc.body.paths['/api/v1/chats'].post.responses['400'])).toContain('type is required');
    expect(bodies.length).toBeGreaterThan(10);
    for (const ref of bodies)
      expect({ ref, closed: doc.body.components.schemas[ref.split('/').pop()!].additionalProperties }).toEqual({ ref, closed: false });
    const ui = await request('GET', '/api/docs');
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger-ui');
  });

  it('names every operation with a short camelCase operationId of its own, which stays the same', async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    const ids = Object.fromEntries(
      Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>).flatMap(([path, item]) =>
        Object.entries(item).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation.operationId]),
      ),
    );
    // None left as Nest's default (ChatsController_create), none missing, none shared.
    for (const [route, id] of Object.entries(ids))
      expect({ route, id }).toEqual({ route, id: expect.stringMatching(/^[a-z][a-zA-Z0-9]*$/) });
    expect(Object.values(ids).filter((id, i, all) => all.indexOf(id) !== i)).toEqual([]);
    // A generated client's method names: changing one is an API change, not a refactoring.
    expect(ids).toEqual({
      'POST /api/v1/auth/sign-up': 'signUp',
      'POST /api/v1/auth/sign-in': 'signIn',
      'POST /api/v1/auth/refresh': 'refreshTokens',
      'POST /api/v1/auth/sign-out': 'signOut',
      'GET /api/v1/auth/sessions': 'listSessions',
      'DELETE /api/v1/auth/sessions/{id}': 'revokeSession',
      'POST /api/v1/auth/confirm-email': 'confirmEmail',
      'POST /api/v1/auth/confirm-email/resend': 'resendConfirmationEmail',
      'POST /api/v1/auth/password/forgot': 'forgotPassword',
      'POST /api/v1/auth/password/reset': 'resetPassword',
      'GET /api/v1/users/me': 'getMe',
      'PATCH /api/v1/users/me': 'updateMe',
      'PUT /api/v1/users/me/avatar': 'uploadAvatar',
      'DELETE /api/v1/users/me/avatar': 'deleteAvatar',
      'GET /api/v1/users/me/avatar': 'getMyAvatar',
      'GET /api/v1/users': 'searchUsers',
      'GET /api/v1/users/{id}/avatar': 'getUserAvatar',
      'GET /api/v1/users/{id}': 'getUser',
      'POST /api/v1/chats': 'createChat',
      'GET /api/v1/chats': 'listChats',
      'GET /api/v1/chats/{id}': 'getChat',
      'PATCH /api/v1/chats/{id}': 'renameChat',
      'DELETE /api/v1/chats/{id}': 'deleteChat',
      'POST /api/v1/chats/{id}/members': 'addChatMembers',
      'DELETE /api/v1/chats/{id}/members/{userId}': 'removeChatMember',
      'PATCH /api/v1/chats/{id}/members/{userId}': 'changeMemberRole',
      'POST /api/v1/chats/{chatId}/messages': 'sendMessage',
      'GET /api/v1/chats/{chatId}/messages': 'listMessages',
      'PATCH /api/v1/chats/{chatId}/messages/{id}': 'editMessage',
      'DELETE /api/v1/chats/{chatId}/messages/{id}': 'deleteMessage',
      'GET /api/v1/chats/{chatId}/messages/{id}/reads': 'listMessageReaders',
      'POST /api/v1/chats/{chatId}/read': 'markChatRead',
      'GET /health': 'checkLiveness',
      'GET /health/ready': 'checkReadiness',
    });
  });

  it('offers request examples in Swagger UI that the server takes as they are, again and again', async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    const examples = (path: string) => doc.paths[path].post.requestBody.content['application/json'].examples;
    const [me, other] = [await signUpAndIn(request), await signUpAndIn(request)];
    const create = examples('/api/v1/chats');
    expect(Object.keys(create)).toEqual(['direct', 'group']);
    // The direct one names a user by a placeholder id: the field to fill in, not one to drop.
    const direct = await request('POST', '/api/v1/chats', {
      token: me.accessToken,
      body: Object.assign({}, create.direct.value, { userId: other.user.id }),
    });
    expect(direct.status).toBe(201);
    const group = await request('POST', '/api/v1/chats', { token: me.accessToken, body: create.group.value });
    expect(group.status).toBe(201);
    const send = examples('/api/v1/chats/{chatId}/messages');
    for (const seq of [1, 2]) {
      const sent = await request('POST', `/api/v1/chats/${group.body.id}/messages`, { token: me.accessToken, body: send.plain.value });
      expect({ status: sent.status, seq: sent.body.seq }).toEqual({ status: 201, seq });
    }
  });

  it("documents the error shape and each route's errors, and marks public routes as needing no session", async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    expect(doc.components.schemas.ErrorDto.required).toEqual(expect.arrayContaining(['statusCode', 'error', 'code', 'message']));
    const op = (method: string, path: string) => doc.paths[path][method];
    const errorCodes = (method: string, path: string, status: number) => {
      const response = op(method, path).responses[status];
      expect(response.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorDto' });
      return response.description as string;
    };

    // Every route the error codes are written down for is still a route (a renamed one would lose them without a word).
    const routes = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`)),
    );
    expect(routesWithErrorCodes().filter((route) => !routes.has(route))).toEqual([]);
    // A 429's example says what that route's limit says.
    const tooMany = (method: string, path: string) => op(method, path).responses[429].content['application/json'].example.message;
    expect(tooMany('patch', '/api/v1/users/me')).toBe('Too many profile changes (avatar uploads, name changes); wait a moment.');
    expect(tooMany('get', '/api/v1/users')).toBe('Too many searches; wait a moment.');
    expect(tooMany('post', '/api/v1/chats/{chatId}/messages')).toBe('You are sending or editing messages too fast; wait a moment.');
    expect(tooMany('post', '/api/v1/auth/sign-up')).toBe('Too many authentication requests from this address; try again later.');
    for (const path of ['/api/v1/auth/sign-up', '/api/v1/auth/sign-in', '/api/v1/auth/refresh', '/api/v1/auth/password/reset'])
      expect(op('post', path).security).toEqual([]);
    expect(op('get', '/health').security).toEqual([]);
    // Sign-out uses a session when it is sent one, yet works with only a refresh token: its schemes are optional.
    expect(op('post', '/api/v1/auth/sign-out').security).toEqual(expect.arrayContaining([{ bearer: [] }, { cookie: [] }, {}]));
    expect(op('post', '/api/v1/auth/sign-out').description).toContain('refresh_token cookie');
    expect(op('get', '/api/v1/users/me').security).not.toContainEqual({});
    expect(op('get', '/api/v1/users/me').security).toEqual(expect.arrayContaining([{ bearer: [] }, { cookie: [] }]));
    expect(JSON.stringify(doc)).not.toContain('x-parley-public');
    // Every error example is a sentence the server says, none a placeholder.
    const examples = Object.values(doc.paths as Record<string, Record<string, { responses: Record<string, any> }>>).flatMap((item) =>
      Object.values(item).flatMap((operation) =>
        Object.values(operation.responses).flatMap((response) => response.content?.['application/json']?.example ?? []),
      ),
    );
    expect(examples.length).toBeGreaterThan(100);
    expect(examples.filter((example) => /A sentence saying what went wrong/.test(example.message)).map((e) => e.code)).toEqual([]);

    expect(errorCodes('post', '/api/v1/auth/sign-up', 409)).toMatch(/EMAIL_TAKEN/);
    expect(errorCodes('post', '/api/v1/auth/sign-in', 401)).toMatch(/INVALID_CREDENTIALS/);
    expect(op('post', '/api/v1/auth/sign-in').responses[429].headers['Retry-After']).toBeDefined();
    expect(errorCodes('post', '/api/v1/auth/refresh', 401)).toMatch(/REFRESH_REUSED/);
    expect(errorCodes('post', '/api/v1/chats', 409)).toMatch(/CHAT_TITLE_TAKEN/);
    expect(errorCodes('delete', '/api/v1/chats/{id}/members/{userId}', 409)).toMatch(
      /CHAT_TITLE_TAKEN.*DIRECT_CHAT_FIXED|DIRECT_CHAT_FIXED.*CHAT_TITLE_TAKEN/s,
    );
    expect(errorCodes('get', '/api/v1/chats/{id}', 404)).toMatch(/also for a chat you are not a member of.*CHAT_NOT_FOUND/);
    expect(errorCodes('post', '/api/v1/chats', 404)).not.toMatch(/member of/);
    // Each status shows an example of its own, in the one error shape; successes have a description.
    const example = (method: string, path: string, status: number) =>
      op(method, path).responses[status].content['application/json'].example;
    expect(example('get', '/api/v1/chats/{id}', 404)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'CHAT_NOT_FOUND',
      message: expect.any(String),
    });
    expect(example('post', '/api/v1/auth/sign-up', 409)).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'EMAIL_TAKEN' });
    // A validation example names the route's own input.
    expect(example('post', '/api/v1/auth/sign-in', 400)).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      details: [{ field: 'email', message: 'email is required' }],
    });
    expect(example('post', '/api/v1/chats/{chatId}/messages', 400).details[0].field).toBe('text');
    expect(op('post', '/api/v1/chats').responses[201].description).toBe('Created');
    expect(errorCodes('get', '/api/v1/chats/{id}', 401)).toMatch(/UNAUTHENTICATED/);
    expect(errorCodes('patch', '/api/v1/users/me', 400)).toMatch(/VALIDATION_FAILED/);
    // A write without a body of its own refuses one with fields.
    expect(errorCodes('post', '/api/v1/auth/confirm-email/resend', 400)).toMatch(/VALIDATION_FAILED/);
    expect(errorCodes('get', '/api/v1/users/me/avatar', 404)).toMatch(/AVATAR_NOT_FOUND/);
    expect(op('post', '/api/v1/auth/sign-in').responses[401]).toBeDefined();
    expect(op('get', '/health').responses[401]).toBeUndefined();
    expect(errorCodes('patch', '/api/v1/users/me', 403)).toMatch(/ORIGIN_NOT_ALLOWED/);
    expect(errorCodes('post', '/api/v1/auth/refresh', 403)).toMatch(/ORIGIN_NOT_ALLOWED/);
    expect(errorCodes('patch', '/api/v1/chats/{id}', 403)).toMatch(/CHAT_ADMIN_REQUIRED, ORIGIN_NOT_ALLOWED/);
    expect(op('get', '/api/v1/users/me').responses[403]).toBeUndefined();
    expect(errorCodes('patch', '/api/v1/users/me', 415)).toMatch(/UNSUPPORTED_MEDIA_TYPE/);
    expect(errorCodes('post', '/api/v1/chats/{chatId}/messages', 415)).toMatch(/UNSUPPORTED_MEDIA_TYPE/);
    // A route without a JSON body of its own is not judged for its type, only for its charset by the parser.
    expect(errorCodes('get', '/api/v1/users/me', 415)).toMatch(/Codes: UNSUPPORTED_ENCODING$/);
    // What the JSON parser refuses, on every route: those that read a JSON body and those that take none.
    expect(errorCodes('patch', '/api/v1/users/me', 400)).toMatch(/VALIDATION_FAILED, MALFORMED_JSON/);
    expect(errorCodes('patch', '/api/v1/users/me', 413)).toMatch(/PAYLOAD_TOO_LARGE/);
    expect(errorCodes('patch', '/api/v1/users/me', 415)).toMatch(/UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_ENCODING/);
    for (const [method, path] of [
      ['get', '/api/v1/users/me'],
      ['delete', '/api/v1/users/me/avatar'],
      ['post', '/api/v1/auth/confirm-email/resend'],
      ['get', '/health'],
    ]) {
      expect(errorCodes(method, path, 400)).toMatch(/MALFORMED_JSON/);
      expect(errorCodes(method, path, 413)).toMatch(/PAYLOAD_TOO_LARGE/);
      expect(errorCodes(method, path, 415)).toMatch(/UNSUPPORTED_ENCODING/);
    }
    // A query parameter a route does not take is a 400 everywhere but on health and sign-out.
    expect(errorCodes('get', '/api/v1/auth/sessions', 400)).toMatch(/VALIDATION_FAILED/);
    // Health takes any query: its only validation failure is a JSON body that is not an object.
    expect(example('get', '/health', 400).message).toBe('The request body must be a JSON object.');
    // Ids are UUIDs, counts and seqs integers, and sign-in sets the cookies.
    expect(op('get', '/api/v1/chats/{id}').parameters[0]).toMatchObject({ in: 'path', name: 'id', schema: { format: 'uuid' } });
    expect(doc.components.schemas.ChatDto.properties.unreadCount.type).toBe('integer');
    expect(doc.components.schemas.AuthResultDto.properties.expiresIn.type).toBe('integer');
    expect(op('post', '/api/v1/auth/sign-in').responses[200].headers['Set-Cookie']).toBeDefined();
    // Sign-out reads what body it can by hand, validating nothing; with nothing to sign out of it is a 401.
    expect(op('post', '/api/v1/auth/sign-out').responses[415]).toBeUndefined();
    expect(op('post', '/api/v1/auth/sign-out').responses[400]).toBeUndefined();
    expect(errorCodes('post', '/api/v1/auth/sign-out', 401)).toMatch(/UNAUTHENTICATED/);
    // Any route may find the database away: 503 with Retry-After.
    expect(errorCodes('get', '/api/v1/chats', 503)).toMatch(/SERVICE_UNAVAILABLE/);
    expect(op('get', '/api/v1/chats').responses[503].headers['Retry-After']).toBeDefined();

    // Anything else (500) comes in the same shape.
    for (const [method, path] of [
      ['get', '/health'],
      ['post', '/api/v1/auth/sign-out'],
      ['patch', '/api/v1/chats/{id}'],
    ])
      expect(op(method, path).responses.default.content['application/json']).toMatchObject({
        schema: { $ref: '#/components/schemas/ErrorDto' },
        example: { statusCode: 500, code: 'INTERNAL_ERROR' },
      });
    expect(doc.components.schemas.ErrorDto.properties.statusCode.type).toBe('integer');
    expect(doc.components.schemas.ErrorDto.properties.details.items.required).toEqual(['field', 'message']);

    const page = doc.components.schemas.MessagePageDto.properties.items;
    expect(page).toEqual({ type: 'array', items: { $ref: '#/components/schemas/MessageDto' } });
    expect(op('post', '/api/v1/auth/refresh').requestBody.required).toBe(false);
  });

  it('documents the length and size limits the server enforces: at the limit passes, one past it is refused', async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    const account = await signUpAndIn(request);
    const schemas = doc.components.schemas;
    const queryParam = (path: string, name: string) =>
      doc.paths[path].get.parameters.find((p: { name: string }) => p.name === name).schema as Record<string, number>;
    const uuids = (n: number) => Array.from({ length: n }, () => randomUUID());
    // Each case: the documented limit, and a request carrying a value of a given size in that field alone.
    const cases: Array<{ field: string; limit: number; send: (size: number) => Promise<HttpResult> }> = [
      {
        field: 'email',
        limit: schemas.SignInDto.properties.email.maxLength,
        send: (n) => request('POST', '/api/v1/auth/sign-in', { body: { email: 'a'.repeat(n), password: 'whatever1' } }),
      },
      {
        field: 'password',
        limit: schemas.SignInDto.properties.password.maxLength,
        send: (n) => request('POST', '/api/v1/auth/sign-in', { body: { email: uniqueEmail(), password: 'p'.repeat(n) } }),
      },
      {
        field: 'refreshToken',
        limit: schemas.RefreshDto.properties.refreshToken.maxLength,
        send: (n) => request('POST', '/api/v1/auth/refresh', { body: { refreshToken: 't'.repeat(n) } }),
      },
      {
        field: 'token',
        limit: schemas.TokenDto.properties.token.maxLength,
        send: (n) => request('POST', '/api/v1/auth/confirm-email', { body: { token: 't'.repeat(n) } }),
      },
      {
        field: 'query',
        limit: queryParam('/api/v1/users', 'query').maxLength,
        send: (n) => request('GET', `/api/v1/users?query=${'q'.repeat(n)}`, { token: account.accessToken }),
      },
      {
        field: 'memberIds',
        limit: schemas.CreateGroupChatBody.properties.memberIds.maxItems,
        send: (n) =>
          request('POST', '/api/v1/chats', { token: account.accessToken, body: { type: 'group', title: 'Big', memberIds: uuids(n) } }),
      },
    ];
    for (const { field, limit, send } of cases) {
      expect({ field, limit }).toEqual({ field, limit: expect.any(Number) });
      const at = await send(limit);
      expect({ field, code: at.body?.code }).not.toEqual({ field, code: 'VALIDATION_FAILED' });
      const past = await send(limit + 1);
      expect({
        field,
        status: past.status,
        code: past.body.code,
        fields: past.body.details?.map((d: { field: string }) => d.field),
      }).toEqual({
        field,
        status: 400,
        code: 'VALIDATION_FAILED',
        fields: [field],
      });
    }
    expect(schemas.TokenDto.properties.token.minLength).toBe(1);
    expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token: '' } }), 400, 'VALIDATION_FAILED');
    expect(schemas.SignUpDto.properties.email).toMatchObject({ format: 'email', maxLength: 320 });
    expect(schemas.AddMembersDto.properties.userIds).toMatchObject({ minItems: 1, maxItems: 100, items: { format: 'uuid' } });
    expect(queryParam('/api/v1/users', 'limit').default).toBe(20);
    expect(queryParam('/api/v1/chats', 'limit').default).toBe(50);
    expect(queryParam('/api/v1/chats/{chatId}/messages', 'before').minimum).toBe(1);
    // No servers entry (the default: this origin), which generated clients join to the paths as they are.
    expect(doc.servers).toBeUndefined();
    // A chat's peer and last message are an object or null: null as an alternative of its own,
    // since OpenAPI 3.0's nullable does not reach into a $ref.
    for (const [field, model] of [
      ['peer', 'PublicUserDto'],
      ['lastMessage', 'MessageDto'],
    ]) {
      expect(schemas.ChatDto.properties[field].oneOf).toEqual([
        { $ref: `#/components/schemas/${model}` },
        { type: 'object', nullable: true, enum: [null] },
      ]);
      expect(schemas.ChatDto.required).toContain(field);
    }
    expect(doc.paths['/api/v1/users/me'].patch.responses[429]).toBeDefined();
    expect(doc.info.description).toMatch(/## WebSocket: `GET \/ws`/);
  });

  it("shows as each route's 400 what the server answers there, and what the JSON parser refuses on routes that take no body", async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    const account = await signUpAndIn(request);
    const example = (method: string, path: string, status: number) =>
      doc.paths[path][method].responses[status].content['application/json'].example;
    const codes = (method: string, path: string, status: number) => doc.paths[path][method].responses[status].description as string;
    // Routes with no input of their own: a stray query parameter, a body sent to a write that takes none.
    expect((await request('GET', '/api/v1/users/me?x=1', { token: account.accessToken })).body).toEqual(
      example('get', '/api/v1/users/me', 400),
    );
    expect((await request('GET', '/api/v1/auth/sessions?x=1', { token: account.accessToken })).body).toEqual(
      example('get', '/api/v1/auth/sessions', 400),
    );
    expect((await request('DELETE', '/api/v1/users/me/avatar', { token: account.accessToken, body: { x: 1 } })).body).toEqual(
      example('delete', '/api/v1/users/me/avatar', 400),
    );
    expect((await request('GET', '/api/v1/users/me/avatar?x=1', { token: account.accessToken })).body).toEqual(
      example('get', '/api/v1/users/me/avatar', 400),
    );

    const auth = { authorization: `Bearer ${account.accessToken}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const oversized = `{"x":"${'x'.repeat(app.config.http.jsonBodyLimit)}"}`;
    for (const [method, path] of [
      ['GET', '/api/v1/users/me'],
      ['DELETE', '/api/v1/users/me/avatar'],
      ['POST', '/api/v1/auth/confirm-email/resend'],
      ['GET', '/health'],
    ]) {
      const documented = (status: number) => codes(method.toLowerCase(), path, status);
      const broken = await rawRequest(app.url, method, path, json, '{"x":');
      expect({ path, code: broken.body.code, documented: documented(400) }).toEqual({
        path,
        code: 'MALFORMED_JSON',
        documented: expect.stringContaining('MALFORMED_JSON'),
      });
      const large = await rawRequest(app.url, method, path, json, oversized);
      expect({ path, code: large.body.code, documented: documented(413) }).toEqual({
        path,
        code: 'PAYLOAD_TOO_LARGE',
        documented: expect.stringContaining('PAYLOAD_TOO_LARGE'),
      });
      const latin1 = await rawRequest(app.url, method, path, { ...auth, 'content-type': 'application/json; charset=latin1' }, '{}');
      expect({ path, code: latin1.body.code, documented: documented(415) }).toEqual({
        path,
        code: 'UNSUPPORTED_ENCODING',
        documented: expect.stringContaining('UNSUPPORTED_ENCODING'),
      });
    }
    // Health validates nothing of its own, but JSON that is not an object is refused before any route.
    const notAnObject = await rawRequest(app.url, 'GET', '/health', json, 'null');
    expect(notAnObject.body).toEqual(example('get', '/health', 400));
    // Sign-out leaves aside a body it cannot read, and says so by listing none of it.
    expect((await rawRequest(app.url, 'POST', '/api/v1/auth/sign-out', json, '{"x":')).status).toBe(204);
    expect(doc.paths['/api/v1/auth/sign-out'].post.responses[400]).toBeUndefined();
  });

  it('says in the description, and again in each 400, that a query parameter an operation does not list is refused, as the server does', async () => {
    const { body: doc } = await request('GET', '/api/docs-json');
    type Operation = { parameters?: Array<{ in: string; name: string }>; responses: Record<string, { description?: string }> };
    const anyId = '00000000-0000-4000-8000-000000000000';
    const exempt: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const route = `${method.toUpperCase()} ${path}`;
        const listed = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        const said = operation.responses[400]?.description ?? '';
        // No token and no body: the query is judged before either.
        const answer = await request(method.toUpperCase(), `${path.replace(/\{[^}]+\}/g, anyId)}?zz=1`);
        const refused = answer.status === 400 && answer.body.details?.some((d: { field: string }) => d.field === 'zz');
        if (!refused) {
          exempt.push(route);
          expect({ route, said }).toEqual({ route, said: expect.not.stringContaining('query parameter') });
          continue;
        }
        // What the server says the operation takes is what the document lists, and its 400 says so.
        const only = /takes only (.*) as query parameters/.exec(answer.body.message)?.[1];
        expect({ route, code: answer.body.code, taken: only ? only.split(', ').sort() : [], said }).toEqual({
          route,
          code: 'VALIDATION_FAILED',
          taken: [...listed].sort(),
          said: expect.stringContaining(
            listed.length === 0
              ? '(also VALIDATION_FAILED for any query parameter: this operation takes none)'
              : `(also VALIDATION_FAILED for a query parameter other than ${listed.join(', ')})`,
          ),
        });
      }
    }
    expect(exempt).toEqual(['POST /api/v1/auth/sign-out', 'GET /health', 'GET /health/ready']);
    // The description says the rule once, and names exactly the operations that take any query.
    const rule = /## Query parameters\n(.*)/.exec(doc.info.description)?.[1] ?? '';
    expect(rule).toContain('A query parameter an operation does not list is refused, not ignored');
    expect(rule).toContain('`400 VALIDATION_FAILED`');
    expect(rule.match(/`(GET|POST|PUT|PATCH|DELETE) [^`]+`/g)).toEqual(exempt.map((route) => `\`${route}\``));
  });

  it('redirects / to the test chat page', async () => {
    const result = await request('GET', '/');
    expect(result.status).toBe(302);
    expect(result.headers.get('location')).toBe('/ui/');
  });
});

describe('shutting down', () => {
  it('closes even while a connection that never sent a request is open (browser preconnect)', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp(db.env);
    const { port } = new URL(app.url);
    const idle = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));
    try {
      // Without HttpShutdown this waits for Node's headersTimeout (60 s), past the test's limit.
      await app.close();
      await idleClosed;
    } finally {
      idle.destroy();
      await db.dispose();
    }
  }, 30_000);
});

/** A request through node:http, for what fetch will not send: a GET with a body, a chunked body. */
function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      { method, headers: chunked(headers) ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const chunked = (headers: Record<string, string>) => headers['transfer-encoding'] === 'chunked';
