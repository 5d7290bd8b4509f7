import { readdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AVATAR_MAX_BYTES } from '../src/modules/users/domain/avatar.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { type FakeS3, startFakeS3 } from './support/fake-s3.js';
import { expectErrorShape, httpClient, type HttpResult } from './support/http.js';
import { IMAGES, MIME } from './support/images.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually } from './support/ws.js';
import { closedSocket, openConnection } from './support/net.js';

type Backend = 'local-files' | 's3';
const BUCKET = 'parley-avatars';
const KEY = (userId: string, ext: string) => new RegExp(`^avatars/${userId}/[0-9a-f-]{36}\\.${ext}$`);

interface Setup {
  db: TestDatabase;
  s3?: FakeS3;
  app: TestApp;
  request: ReturnType<typeof httpClient>;
  /** Object keys under avatars/<userId>/, read from the backing store itself. */
  storedKeys(userId: string): Promise<string[]>;
  /** users.avatar_key as the database has it. */
  avatarKey(userId: string): Promise<string | null>;
  upload(token: string, bytes: Buffer, options?: { filename?: string; type?: string; field?: string }): Promise<HttpResult>;
  dispose(): Promise<void>;
}

async function setUp(backend: Backend): Promise<Setup> {
  const db = await createTestDatabase('postgres');
  const s3 = backend === 's3' ? await startFakeS3() : undefined;
  const app = await startTestApp({ ...db.env, ...(s3?.env(BUCKET) ?? {}), MODULES: 'auth,users' });
  const request = httpClient(app.url);
  const filesRoot = join(db.env.DATA_DIR, 'files');
  return {
    db,
    s3,
    app,
    request,
    async storedKeys(userId) {
      if (s3) return s3.keys(BUCKET, `avatars/${userId}/`);
      const names = await readdir(join(filesRoot, 'avatars', userId)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw error;
      });
      return names.map((name) => `avatars/${userId}/${name}`).sort();
    },
    async avatarKey(userId) {
      const rows = (await app.app.get(DataSource).query('SELECT avatar_key FROM users WHERE id = $1', [userId])) as {
        avatar_key: string | null;
      }[];
      return rows[0].avatar_key;
    },
    upload(token, bytes, { filename = 'avatar.bin', type = 'application/octet-stream', field = 'file' } = {}) {
      const form = new FormData();
      form.append(field, new Blob([new Uint8Array(bytes)], { type }), filename);
      return request('PUT', '/api/v1/users/me/avatar', { raw: form, token });
    },
    async dispose() {
      await app?.close();
      await s3?.close();
      await db?.dispose();
    },
  };
}

/** GET on a path, returning the raw bytes (the JSON helper would decode them as text). */
async function fetchBytes(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

describe.each<Backend>(['local-files', 's3'])('avatars on %s storage', (backend) => {
  let s: Setup;
  let alice: SignedIn;

  beforeAll(async () => {
    s = await setUp(backend);
    expect(s.app.app.get(ObjectStorage).mode).toBe(backend);
  });

  afterAll(() => s?.dispose());

  beforeEach(async () => {
    alice = await signUpAndIn(s.request, 'Alice');
  });

  const bearer = (who: SignedIn) => ({ authorization: `Bearer ${who.accessToken}` });

  it.each(['png', 'jpg', 'webp', 'gif'] as const)(
    'accepts a %s by its content (whatever the client calls it), stores it under a server key and serves the same bytes',
    async (ext) => {
      const result = await s.upload(alice.accessToken, IMAGES[ext], { filename: 'upload.txt', type: 'text/plain' });

      expect(result.status).toBe(200);
      expect(result.body).toEqual({
        ...alice.user,
        avatarUrl: expect.stringMatching(new RegExp(`^/api/v1/users/${alice.user.id}/avatar\\?v=[0-9a-f]{8}$`)),
        lastSeenAt: null,
        createdAt: expect.any(String),
      });
      const keys = await s.storedKeys(alice.user.id);
      expect(keys).toEqual([expect.stringMatching(KEY(alice.user.id, ext))]);
      expect(await s.avatarKey(alice.user.id)).toBe(keys[0]);
      const stored = await s.app.app.get(ObjectStorage).get(keys[0]);
      expect({ type: stored?.contentType, same: stored?.body.equals(IMAGES[ext]) }).toEqual({ type: MIME[ext], same: true });

      const served = await fetchBytes(s.app.url + result.body.avatarUrl, bearer(alice));
      expect(served.status).toBe(200);
      expect(served.body.equals(IMAGES[ext])).toBe(true);
      expect(served.headers.get('content-type')).toBe(MIME[ext]);
      expect(served.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      expect(served.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await s.request('GET', '/api/v1/users/me', { token: alice.accessToken })).body.avatarUrl).toBe(result.body.avatarUrl);
      // The same image at the caller's own path, without knowing the id.
      const mine = await fetchBytes(`${s.app.url}/api/v1/users/me/avatar`, bearer(alice));
      expect({ status: mine.status, same: mine.body.equals(IMAGES[ext]), type: mine.headers.get('content-type') }).toEqual({
        status: 200,
        same: true,
        type: MIME[ext],
      });
    },
  );

  it('refuses a text file named x.png and declared image/png with 415, storing nothing and keeping the current avatar', async () => {
    const before = await s.upload(alice.accessToken, IMAGES.gif);
    const keysBefore = await s.storedKeys(alice.user.id);

    const result = await s.upload(alice.accessToken, Buffer.from('just some text, not a picture\n'), {
      filename: 'x.png',
      type: 'image/png',
    });

    expectErrorShape(result, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await s.storedKeys(alice.user.id)).toEqual(keysBefore);
    expect((await s.request('GET', '/api/v1/users/me', { token: alice.accessToken })).body.avatarUrl).toBe(before.body.avatarUrl);
  });

  it('refuses 5 MB + 1 byte with 413 FILE_TOO_LARGE and stores nothing, and accepts exactly 5 MB', async () => {
    const image = (size: number) => Buffer.concat([IMAGES.png, Buffer.alloc(size - IMAGES.png.length)]);

    const tooLarge = await s.upload(alice.accessToken, image(AVATAR_MAX_BYTES + 1), { type: 'image/png' });
    expectErrorShape(tooLarge, 413, 'FILE_TOO_LARGE');
    expect(await s.storedKeys(alice.user.id)).toEqual([]);
    expect(await s.avatarKey(alice.user.id)).toBeNull();

    const atLimit = await s.upload(alice.accessToken, image(AVATAR_MAX_BYTES), { type: 'image/png' });
    expect(atLimit.status).toBe(200);
    const keys = await s.storedKeys(alice.user.id);
    expect(keys).toHaveLength(1);
    expect((await s.app.app.get(ObjectStorage).get(keys[0]))?.size).toBe(AVATAR_MAX_BYTES);
  });

  it("takes an upload the client cut off as the client's doing: nothing stored, nothing logged as an error", async () => {
    const errors = jest.spyOn(Logger.prototype, 'error');
    try {
      const boundary = 'cut-off-boundary';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`;
      const { port } = new URL(s.app.url);
      const { client: socket, accepted: serverSide } = await openConnection(s.app.app.getHttpServer() as Server);
      const request = Buffer.from(
        [
          'PUT /api/v1/users/me/avatar HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          `Authorization: Bearer ${alice.accessToken}`,
          `Content-Type: multipart/form-data; boundary=${boundary}`,
          `Content-Length: ${2 * 1024 * 1024}`,
          '',
          '',
        ].join('\r\n'),
      );
      const body = Buffer.concat([Buffer.from(head), IMAGES.png, Buffer.alloc(256 * 1024)]);
      socket.write(request);
      socket.write(body);
      // The server has read all of it and waits for the rest of the upload: the client hangs up mid-upload.
      await eventually(() => serverSide.bytesRead === request.length + body.length);
      socket.destroy();
      // The server notices the hang-up and answers (to no one); a later request sees the outcome.
      await closedSocket(serverSide);
      expect((await s.request('GET', '/api/v1/users/me', { token: alice.accessToken })).status).toBe(200);
      expect(errors.mock.calls.map(([first]) => first)).toEqual([]);
      expect(await s.storedKeys(alice.user.id)).toEqual([]);
    } finally {
      errors.mockRestore();
    }
  });

  it('deletes the previous object once a new avatar replaces it, and changes the URL', async () => {
    const first = await s.upload(alice.accessToken, IMAGES.png);
    const firstKey = (await s.avatarKey(alice.user.id))!;
    expect(await s.app.app.get(ObjectStorage).get(firstKey)).toBeDefined();

    const second = await s.upload(alice.accessToken, IMAGES.webp);

    const secondKey = (await s.avatarKey(alice.user.id))!;
    expect(secondKey).toMatch(KEY(alice.user.id, 'webp'));
    expect(await s.storedKeys(alice.user.id)).toEqual([secondKey]);
    expect(await s.app.app.get(ObjectStorage).get(firstKey)).toBeUndefined();
    expect(second.body.avatarUrl).not.toBe(first.body.avatarUrl);

    // The old URL now names another image: it still answers, but must not be cached as final.
    const stale = await fetchBytes(s.app.url + first.body.avatarUrl, bearer(alice));
    expect({ status: stale.status, type: stale.headers.get('content-type'), cache: stale.headers.get('cache-control') }).toEqual({
      status: 200,
      type: 'image/webp',
      cache: 'private, no-cache',
    });
  });

  it('keeps exactly the object the user points at when several uploads race', async () => {
    const results = await Promise.all(
      [IMAGES.png, IMAGES.jpg, IMAGES.gif, IMAGES.webp, IMAGES.png].map((img) => s.upload(alice.accessToken, img)),
    );

    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const key = await s.avatarKey(alice.user.id);
    expect(await s.storedKeys(alice.user.id)).toEqual([key]);
  });

  it('removes the avatar: 204, object deleted, key cleared, then 404 AVATAR_NOT_FOUND', async () => {
    await s.upload(alice.accessToken, IMAGES.jpg);
    const key = (await s.avatarKey(alice.user.id))!;

    const removed = await s.request('DELETE', '/api/v1/users/me/avatar', { token: alice.accessToken });

    expect(removed.status).toBe(204);
    expect(await s.avatarKey(alice.user.id)).toBeNull();
    expect(await s.storedKeys(alice.user.id)).toEqual([]);
    expect(await s.app.app.get(ObjectStorage).get(key)).toBeUndefined();
    expect((await s.request('GET', '/api/v1/users/me', { token: alice.accessToken })).body.avatarUrl).toBeNull();
    expectErrorShape(
      await s.request('GET', `/api/v1/users/${alice.user.id}/avatar`, { token: alice.accessToken }),
      404,
      'AVATAR_NOT_FOUND',
    );
    expectErrorShape(await s.request('GET', '/api/v1/users/me/avatar', { token: alice.accessToken }), 404, 'AVATAR_NOT_FOUND');
    expect((await s.request('DELETE', '/api/v1/users/me/avatar', { token: alice.accessToken })).status).toBe(204);
  });

  it('lets another signed-in user read the avatar, with the token or the cookie, and shows its URL on the public profile', async () => {
    const bob = await signUpAndIn(s.request, 'Bob');
    const uploaded = await s.upload(alice.accessToken, IMAGES.gif);

    const profile = await s.request('GET', `/api/v1/users/${alice.user.id}`, { token: bob.accessToken });
    expect(profile.body.avatarUrl).toBe(uploaded.body.avatarUrl);
    for (const headers of [bearer(bob), { cookie: `access_token=${bob.accessToken}` }]) {
      const served = await fetchBytes(s.app.url + profile.body.avatarUrl, headers);
      expect({ status: served.status, same: served.body.equals(IMAGES.gif) }).toEqual({ status: 200, same: true });
    }
  });
});

describe('avatar requests that go wrong', () => {
  let s: Setup;
  let alice: SignedIn;

  beforeAll(async () => {
    s = await setUp('local-files');
    alice = await signUpAndIn(s.request, 'Alice');
  });

  afterAll(() => s?.dispose());

  it('answers 401 without authentication, for reading, uploading and removing alike', async () => {
    await s.upload(alice.accessToken, IMAGES.png);

    expectErrorShape(await s.request('GET', `/api/v1/users/${alice.user.id}/avatar`), 401, 'UNAUTHENTICATED');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(IMAGES.png)]), 'a.png');
    expectErrorShape(await s.request('PUT', '/api/v1/users/me/avatar', { raw: form }), 401, 'UNAUTHENTICATED');
    expectErrorShape(await s.request('DELETE', '/api/v1/users/me/avatar'), 401, 'UNAUTHENTICATED');
    expect(await s.avatarKey(alice.user.id)).not.toBeNull();
  });

  it('answers 400 when there is no file (an empty form, the image under another field name), 415 to a body that is not multipart', async () => {
    const empty = await s.request('PUT', '/api/v1/users/me/avatar', { raw: new FormData(), token: alice.accessToken });
    const otherField = await s.upload(alice.accessToken, IMAGES.png, { field: 'avatar' });
    for (const result of [empty, otherField]) expectErrorShape(result, 400, 'VALIDATION_FAILED');
    expect(otherField.body.details).toEqual([expect.objectContaining({ field: 'avatar' })]);

    const json = await s.request('PUT', '/api/v1/users/me/avatar', { body: { file: 'x' }, token: alice.accessToken });
    const raw = await s.request('PUT', '/api/v1/users/me/avatar', {
      raw: IMAGES.png,
      headers: { 'content-type': 'image/png' },
      token: alice.accessToken,
    });
    for (const result of [json, raw]) expectErrorShape(result, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(raw.body.message).toBe('Send the avatar as multipart/form-data with the image in the field "file", not as image/png.');
  });

  it('says that text fields are not accepted when the image comes as a text field', async () => {
    const form = new FormData();
    form.append('file', 'not a file but text');
    const result = await s.request('PUT', '/api/v1/users/me/avatar', { raw: form, token: alice.accessToken });
    expectErrorShape(result, 400, 'VALIDATION_FAILED');
    expect(result.body.message).toBe('Text fields are not accepted; send the image as a file part named "file".');
  });

  it('answers 400 to a form with fields besides the file, storing nothing', async () => {
    const bob = await signUpAndIn(s.request, 'Bob');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(IMAGES.png)]), 'a.png');
    form.append('name', 'Mallory');

    const extraField = await s.request('PUT', '/api/v1/users/me/avatar', { raw: form, token: bob.accessToken });
    expectErrorShape(extraField, 400, 'VALIDATION_FAILED');
    expect(extraField.body.message).toMatch(/^Text fields are not accepted/);

    const twoImages = new FormData();
    twoImages.append('file', new Blob([new Uint8Array(IMAGES.png)]), 'a.png');
    twoImages.append('file', new Blob([new Uint8Array(IMAGES.png)]), 'b.png');
    const second = await s.request('PUT', '/api/v1/users/me/avatar', { raw: twoImages, token: bob.accessToken });
    expectErrorShape(second, 400, 'VALIDATION_FAILED');
    expect(second.body.message).toBe('Send exactly one part, the image in the field "file"; the body had more than one.');
    expect(await s.storedKeys(bob.user.id)).toEqual([]);
  });

  it('refuses an empty file and other image formats (BMP, SVG) with 415', async () => {
    const bmp = Buffer.concat([Buffer.from('BM', 'latin1'), Buffer.alloc(60)]);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    for (const [bytes, type] of [
      [Buffer.alloc(0), 'image/png'],
      [bmp, 'image/bmp'],
      [svg, 'image/svg+xml'],
    ] as const) {
      expectErrorShape(await s.upload(alice.accessToken, bytes, { type }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('refuses an image whose header is cut short (415) or declares more pixels than an avatar may have (413), storing nothing', async () => {
    await s.request('DELETE', '/api/v1/users/me/avatar', { token: alice.accessToken });
    const declaring = (width: number, height: number) => {
      const png = Buffer.from(IMAGES.png);
      png.writeUInt32BE(width, 16);
      png.writeUInt32BE(height, 20);
      return png;
    };
    for (const bytes of [IMAGES.png.subarray(0, 8), IMAGES.png.subarray(0, 20), IMAGES.webp.subarray(0, 16)])
      expectErrorShape(await s.upload(alice.accessToken, bytes), 415, 'UNSUPPORTED_MEDIA_TYPE');
    for (const [width, height] of [
      [0xffffffff, 0xffffffff],
      [8193, 1],
      [8000, 8000],
    ]) {
      const refused = await s.upload(alice.accessToken, declaring(width, height));
      expectErrorShape(refused, 413, 'FILE_TOO_LARGE');
      expect(refused.body.message).toContain(`${width}×${height} pixels`);
    }
    expect(await s.storedKeys(alice.user.id)).toEqual([]);
    expect(await s.avatarKey(alice.user.id)).toBeNull();
    expect((await s.upload(alice.accessToken, declaring(8192, 4096))).status).toBe(200);
  });

  it('answers 304 to a request that already holds this image (If-None-Match)', async () => {
    const { body } = await s.upload(alice.accessToken, IMAGES.webp);
    const first = await fetchBytes(s.app.url + body.avatarUrl, { authorization: `Bearer ${alice.accessToken}` });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f-]{36}\.webp"$/);

    // As a browser revalidates (fetch() itself would add Cache-Control: no-cache, which forces a full answer).
    const again = await fetchBytes(s.app.url + body.avatarUrl, {
      authorization: `Bearer ${alice.accessToken}`,
      'if-none-match': etag!,
      'cache-control': 'max-age=0',
    });

    expect({ status: again.status, length: again.body.length }).toEqual({ status: 304, length: 0 });
    // The headers the document names on the 304 too.
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
  });

  it('answers 404 for a user without an avatar or an unknown user, and 400 for an id that is not a UUID', async () => {
    const bob = await signUpAndIn(s.request, 'Bob');
    const token = alice.accessToken;
    expectErrorShape(await s.request('GET', `/api/v1/users/${bob.user.id}/avatar`, { token }), 404, 'AVATAR_NOT_FOUND');
    expectErrorShape(await s.request('GET', '/api/v1/users/00000000-0000-4000-8000-000000000000/avatar', { token }), 404, 'USER_NOT_FOUND');
    expectErrorShape(await s.request('GET', '/api/v1/users/not-a-uuid/avatar', { token }), 400, 'VALIDATION_FAILED');
  });

  it('documents the multipart body in the OpenAPI document', async () => {
    const doc = (await s.request('GET', '/api/docs-json')).body;
    const put = doc.paths['/api/v1/users/me/avatar'].put;
    const schemaRef: string = put.requestBody.content['multipart/form-data'].schema.$ref;
    const schema = doc.components.schemas[schemaRef.split('/').pop()!];
    expect(schema).toMatchObject({ required: ['file'], properties: { file: { type: 'string', format: 'binary' } } });
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '400', '413', '415']));
    expect(Object.keys(doc.paths['/api/v1/users/{id}/avatar'].get.responses['200'].content)).toContain('image/png');

    // The upload's 415 example is the upload's own answer (multipart), not the JSON routes'.
    const example = put.responses['415'].content['application/json'].example;
    expect(example.message).toContain('multipart/form-data');
    const plain = await s.request('PUT', '/api/v1/users/me/avatar', {
      token: alice.accessToken,
      raw: 'not an image',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.body).toEqual(example);
    const empty = await s.request('PUT', '/api/v1/users/me/avatar', { token: alice.accessToken });
    expect(empty.body).toEqual(put.responses['400'].content['application/json'].example);

    // Both image GETs: v is a string, the caching headers are named, and a cache's revalidation answers 304.
    for (const path of ['/api/v1/users/me/avatar', '/api/v1/users/{id}/avatar']) {
      const get = doc.paths[path].get;
      expect(get.parameters.find((p: { name: string }) => p.name === 'v').schema).toEqual({ type: 'string' });
      expect(Object.keys(get.responses['200'].headers)).toEqual(expect.arrayContaining(['ETag', 'Cache-Control']));
      expect(get.responses['304'].description).toMatch(/If-None-Match/);
      expect(get.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'If-None-Match' }));
    }
  });
});
