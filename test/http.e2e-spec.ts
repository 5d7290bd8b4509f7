import net from 'node:net';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('the HTTP foundation', () => {
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

  it('answers an unknown route with 404 in the error shape', async () => {
    expectErrorShape(await request('GET', '/api/v1/nothing-here'), 404, 'NOT_FOUND');
  });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    expectErrorShape(await request('POST', '/api/v1/auth/sign-in', { raw: '{"email": ' }), 400, 'MALFORMED_JSON');
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

  it('answers a JSON body over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const raw = JSON.stringify({ email: 'x@example.com', password: 'x'.repeat(1024 * 1024) });
    expectErrorShape(await request('POST', '/api/v1/auth/sign-in', { raw }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('rejects unknown body fields with 400 and names them', async () => {
    const result = await request('POST', '/api/v1/auth/sign-up', {
      body: { email: 'someone@example.com', password: 'passw0rd!', name: 'Someone', isAdmin: true },
    });
    expectErrorShape(result, 400, 'VALIDATION_FAILED');
    expect(result.body.details).toEqual([{ field: 'isAdmin', message: 'property isAdmin should not exist' }]);
  });

  it('serves the OpenAPI document with bearer and cookie auth declared, and the Swagger UI', async () => {
    const doc = await request('GET', '/api/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      cookie: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'access_token' }),
    });
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/health', '/health/ready']));
    const ui = await request('GET', '/api/docs');
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger-ui');
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
