import { createServer as createHttpServer } from 'node:http';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SetupError } from '../src/common/errors/setup-error.js';
import { loadConfig } from '../src/config/app-config.js';
import { LocalFileStorage } from '../src/storage/local-file.storage.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { objectStorageContract } from './contracts/object-storage.contract.js';
import { S3ObjectStorage } from '../src/storage/s3-object.storage.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { type FakeS3, S3RVER_KEY, startFakeS3 } from './support/fake-s3.js';
import { startTestApp } from './support/test-app.js';
import { closedPort } from './support/net.js';

/** The adapter's configuration for an S3 endpoint on this loopback port (with s3rver's keys). */
function s3ConfigAt(port: number) {
  return loadConfig({ S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: S3RVER_KEY, S3_SECRET_KEY: S3RVER_KEY, S3_BUCKET: 'parley' })
    .storage.s3!;
}

type Readiness = { status: string; dependencies: Record<string, unknown> };

const UNREACHABLE = /^S3_ENDPOINT is unreachable: .*ECONNREFUSED.*; start the S3\/MinIO server or fix S3_ENDPOINT\.$/;

describe('local file storage', () => {
  let base: string;
  let root: string;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'parley-files-'));
    root = join(base, 'files');
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  objectStorageContract(async () => {
    const storage = new LocalFileStorage(root);
    await storage.init();
    return storage;
  });

  it('keeps the bytes as a plain file under the key and leaves no temp files behind', async () => {
    const storage = new LocalFileStorage(root);
    await storage.init();
    const body = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);

    await storage.put('avatars/u1/a.png', body, 'image/png');

    expect(readFileSync(join(root, 'avatars', 'u1', 'a.png')).equals(body)).toBe(true);
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
  });

  it('writes nothing outside its directory when given an escaping key', async () => {
    const storage = new LocalFileStorage(root);
    await storage.init();

    await expect(storage.put('../escaped.png', Buffer.from('x'), 'image/png')).rejects.toThrow(/Invalid object key/);
    await expect(storage.put('a/../../escaped.png', Buffer.from('x'), 'image/png')).rejects.toThrow(/Invalid object key/);

    expect(readdirSync(base)).toEqual(['files']);
  });

  it('refuses a key whose folder is already an object, keeping that object', async () => {
    const storage = new LocalFileStorage(root);
    await storage.init();
    await storage.put('clash', Buffer.from('kept'), 'text/plain');

    await expect(storage.put('clash/inner', Buffer.from('x'), 'text/plain')).rejects.toThrow(/cannot also be the folder of another key/);

    expect((await storage.get('clash'))?.body.toString()).toBe('kept');
  });

  it('removes temp files left by a crash long ago at start, but not fresh ones', async () => {
    const dir = join(base, 'stale');
    mkdirSync(join(dir, '.tmp'), { recursive: true });
    writeFileSync(join(dir, '.tmp', 'old'), 'half written');
    writeFileSync(join(dir, '.tmp', 'fresh'), 'being written');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(join(dir, '.tmp', 'old'), twoHoursAgo, twoHoursAgo);

    await new LocalFileStorage(dir).init();

    expect(readdirSync(join(dir, '.tmp'))).toEqual(['fresh']);
  });

  it('stops the start with a sentence naming DATA_DIR when the directory cannot be made', async () => {
    const notADirectory = join(base, 'plain-file');
    writeFileSync(notADirectory, 'x');

    const failure = new LocalFileStorage(join(notADirectory, 'files')).init();
    await expect(failure).rejects.toThrow(
      /^The object storage directory .* is not usable: .*set DATA_DIR to one, or configure the S3_\* variables\.$/,
    );
    // A SetupError: printed as that sentence alone, without a stack trace.
    await expect(failure).rejects.toBeInstanceOf(SetupError);
  });
});

describe('S3 object storage (s3rver)', () => {
  let s3: FakeS3;

  beforeAll(async () => {
    s3 = await startFakeS3();
  });

  afterAll(() => s3?.close());

  objectStorageContract(async () => {
    const storage = new S3ObjectStorage(s3.config('parley-contract'));
    await storage.init();
    return storage;
  });

  it('creates its bucket at start when it is missing, and starts again on the existing bucket', async () => {
    expect(await s3.client.bucketExists('parley-fresh')).toBe(false);

    await new S3ObjectStorage(s3.config('parley-fresh')).init();
    expect(await s3.client.bucketExists('parley-fresh')).toBe(true);

    await expect(new S3ObjectStorage(s3.config('parley-fresh')).init()).resolves.toBeUndefined();
  });

  it('stores objects in the bucket under their key with their content type, for any S3 client to read', async () => {
    const storage = new S3ObjectStorage(s3.config('parley-visible'));
    await storage.init();

    await storage.put('avatars/u1/b.webp', Buffer.from('RIFF....WEBP'), 'image/webp');

    const stat = await s3.client.statObject('parley-visible', 'avatars/u1/b.webp');
    expect({ size: stat.size, type: stat.metaData['content-type'] }).toEqual({ size: 12, type: 'image/webp' });
  });

  it('reports itself down, naming the bucket, when the bucket disappears', async () => {
    const storage = new S3ObjectStorage(s3.config('parley-vanishing'));
    await storage.init();
    await expect(storage.check()).resolves.toBeUndefined();

    await s3.client.removeBucket('parley-vanishing');

    await expect(storage.check()).rejects.toThrow(/bucket parley-vanishing does not exist/);
  });
});

describe('an S3 endpoint that is unreachable', () => {
  it('stops the adapter start with a sentence naming S3_ENDPOINT and the fix', async () => {
    const config = s3ConfigAt(await closedPort());

    await expect(new S3ObjectStorage(config).init()).rejects.toThrow(UNREACHABLE);
  });
});

describe('an S3 endpoint where a web server that is not S3 answers', () => {
  it('stops the adapter start with a sentence (a SetupError, no stack) saying to point S3_ENDPOINT at the S3 API', async () => {
    // As MinIO's console port, or any web server: 404 to a bucket's HEAD, 501 to its PUT, plain text.
    const web = createHttpServer((request, response) => {
      response.writeHead(request.method === 'PUT' ? 501 : 404, { 'content-type': 'text/html' });
      response.end(request.method === 'HEAD' ? undefined : '<h1>Not here</h1>');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const failure = new S3ObjectStorage(s3ConfigAt((web.address() as AddressInfo).port)).init();
      await expect(failure).rejects.toBeInstanceOf(SetupError);
      await expect(failure).rejects.toThrow(
        /^S3_ENDPOINT http:\/\/127\.0\.0\.1:\d+ answered, but not as an S3 API does \(.+\); point it at the S3 API \(MinIO: port 9000, not the console's 9001\)\.$/,
      );
    } finally {
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
  });
});

describe('an S3 endpoint that goes away or stops answering after the start', () => {
  it('fails reads and writes with 503 STORAGE_UNAVAILABLE, logging S3_ENDPOINT and why, rather than hanging or a bare 500', async () => {
    // A server that takes connections and never answers.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const storage = new S3ObjectStorage(s3ConfigAt((silent.address() as AddressInfo).port), { socketTimeoutMs: 300 });
      const unavailable = {
        kind: 'unavailable',
        code: 'STORAGE_UNAVAILABLE',
        message: 'Object storage did not answer; try again later.',
        // Sent as Retry-After, as for the database.
        retryAfterSeconds: 5,
      };
      await expect(storage.put('avatars/u/a.png', Buffer.from('x'), 'image/png')).rejects.toMatchObject(unavailable);
      await expect(storage.get('avatars/u/a.png')).rejects.toMatchObject(unavailable);
      await expect(storage.delete('avatars/u/a.png')).rejects.toMatchObject(unavailable);
      // The log says where and why, once for the three.
      expect(warn.mock.calls.map(([line]) => line)).toEqual([
        expect.stringMatching(
          /^Object storage at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\) did not answer: no answer within 0\.3 s; answering 503/,
        ),
      ]);

      warn.mockClear();
      const going = await startFakeS3();
      const again = new S3ObjectStorage(going.config('parley-going'));
      await again.init();
      await again.put('avatars/u/b.png', Buffer.from('y'), 'image/png');
      await going.close();
      await expect(again.get('avatars/u/b.png')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(warn.mock.calls.map(([line]) => line)).toEqual([expect.stringMatching(/ECONNREFUSED|socket hang up|ECONNRESET/)]);
    } finally {
      warn.mockRestore();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('an S3 endpoint that stops answering on a connection already in use', () => {
  it('fails a request on a reused keep-alive socket as unavailable too, rather than hanging', async () => {
    let answered = 0;
    const server = createHttpServer((req, res) => {
      if (answered >= 2) return; // silent from now on, on the same connection
      answered += 1;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '2' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const storage = new S3ObjectStorage(s3ConfigAt((server.address() as AddressInfo).port), { socketTimeoutMs: 300 });
      for (let i = 0; i < 2; i++) expect((await storage.get('avatars/u/a.png'))?.body.toString()).toBe('ok');
      const failure = storage.get('avatars/u/a.png');
      await expect(failure).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      // What a client reads names no host or port (the log does).
      await expect(failure).rejects.toMatchObject({ message: 'Object storage did not answer; try again later.' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("gives a request on a reused socket the whole timeout, not what is left of the server's keep-alive hint", async () => {
    // The server asks for 2 s of keep-alive (Node's agent then times the idle socket out at 1 s)
    // and answers the second request, on the same socket, after 1.5 s: within the 3 s allowed.
    const sockets = new Set<unknown>();
    const server = createHttpServer((req, res) => {
      sockets.add(req.socket);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': '2', 'keep-alive': 'timeout=2' });
        res.end('ok');
      };
      if (sockets.size === 1 && (req.socket as unknown as { served?: boolean }).served) setTimeout(answer, 1_500);
      else answer();
      (req.socket as unknown as { served?: boolean }).served = true;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const storage = new S3ObjectStorage(s3ConfigAt((server.address() as AddressInfo).port), { socketTimeoutMs: 3_000 });
      expect((await storage.get('avatars/u/a.png'))?.body.toString()).toBe('ok');
      expect((await storage.get('avatars/u/a.png'))?.body.toString()).toBe('ok');
      expect(sockets.size).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the app with object storage', () => {
  let db: TestDatabase;
  let s3: FakeS3;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    s3 = await startFakeS3();
  });

  afterAll(async () => {
    await s3?.close();
    await db?.dispose();
  });

  it('reports S3 object storage up on /health/ready and serves it to other modules', async () => {
    const app = await startTestApp({ ...db.env, MODULES: 'health', ...s3.env('parley-app') });
    try {
      const response = await fetch(`${app.url}/health/ready`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Readiness;
      expect(body.dependencies.objectStorage).toEqual({ status: 'up', mode: 's3', latencyMs: expect.any(Number) });

      await app.app.get(ObjectStorage).put('probe/app.txt', Buffer.from('through the app'), 'text/plain');
      expect((await s3.client.statObject('parley-app', 'probe/app.txt')).size).toBe(15);
    } finally {
      await app.close();
    }
  });

  it('uses files under DATA_DIR when S3 is not configured', async () => {
    const app = await startTestApp({ ...db.env, MODULES: 'health' });
    try {
      const body = (await (await fetch(`${app.url}/health/ready`)).json()) as Readiness;
      expect(body.dependencies.objectStorage).toEqual({ status: 'up', mode: 'local-files', latencyMs: expect.any(Number) });

      await app.app.get(ObjectStorage).put('probe/app.txt', Buffer.from('on disk'), 'text/plain');
      expect(readFileSync(join(db.env.DATA_DIR, 'files', 'probe', 'app.txt'), 'utf8')).toBe('on disk');
    } finally {
      await app.close();
    }
  });
});
