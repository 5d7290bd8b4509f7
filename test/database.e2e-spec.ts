import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DatabaseEndpoint } from '../src/database/database.module.js';
import { TypeormMessageRepository } from '../src/modules/messages/infrastructure/persistence/typeorm/typeorm-message.repository.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { createApp } from '../src/app.factory.js';
import { StartInterrupted } from '../src/common/startup-signals.js';
import { loadConfig } from '../src/config/app-config.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { SetupError } from '../src/common/errors/setup-error.js';
import { signUpAndIn } from './support/accounts.js';
import { ADMIN_URL, DATABASE_KINDS, adminQuery, createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { tcpProxy } from './support/proxy.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually, pause } from './support/ws.js';

describe.each(DATABASE_KINDS)('the database (%s)', (kind) => {
  let db: TestDatabase;
  let app: TestApp;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    app = await startTestApp({ ...db.env, MODULES: 'health' });
    dataSource = app.app.get(DataSource);
    await dataSource.query('CREATE TABLE probe (id text PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  beforeEach(() => dataSource.query('TRUNCATE probe'));

  it('keeps two overlapping transactions apart when one rolls back', async () => {
    const events: string[] = [];
    const doomed = dataSource.transaction(async (tx) => {
      await tx.query('INSERT INTO probe (id) VALUES ($1)', ['rolled-back']);
      events.push('doomed inserted');
      await pause(150);
      throw new Error('abort on purpose');
    });
    const kept = (async () => {
      await pause(30);
      await dataSource.transaction(async (tx) => {
        await tx.query('INSERT INTO probe (id) VALUES ($1)', ['committed']);
        events.push('kept inserted');
      });
    })();
    const [doomedResult, keptResult] = await Promise.allSettled([doomed, kept]);

    expect(doomedResult.status).toBe('rejected');
    expect(keptResult.status).toBe('fulfilled');
    expect(events).toContain('doomed inserted');
    const rows = await dataSource.query('SELECT id FROM probe ORDER BY id');
    expect(rows).toEqual([{ id: 'committed' }]);
  });

  it('gives every one of many concurrent parameterised transactions its own results', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `row-${i}`);
    const results = await Promise.all(
      ids.map((id, i) =>
        dataSource
          .transaction(async (tx) => {
            await tx.query('INSERT INTO probe (id, n) VALUES ($1, $2)', [id, i]);
            const [row] = await tx.query('SELECT id, n FROM probe WHERE id = $1', [id]);
            if (i % 7 === 0) throw new Error('roll back every seventh');
            return row as { id: string; n: number };
          })
          .catch(() => 'rolled back'),
      ),
    );
    results.forEach((result, i) => {
      expect(result).toEqual(i % 7 === 0 ? 'rolled back' : { id: `row-${i}`, n: i });
    });
    const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM probe');
    expect(count).toBe(ids.filter((_, i) => i % 7 !== 0).length);
  });

  it('records applied migrations in the migrations table', async () => {
    const [{ exists }] = await dataSource.query("SELECT to_regclass('public.migrations') IS NOT NULL AS exists");
    expect(exists).toBe(true);
  });

  it('keeps data across a restart', async () => {
    await dataSource.query('INSERT INTO probe (id, n) VALUES ($1, $2)', ['survivor', 42]);
    await app.close();
    app = await startTestApp({ ...db.env, MODULES: 'health' });
    dataSource = app.app.get(DataSource);
    expect(await dataSource.query('SELECT id, n FROM probe')).toEqual([{ id: 'survivor', n: 42 }]);
  });

  it('reports the database on /health/ready', async () => {
    const response = await fetch(`${app.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      dependencies: {
        database: { status: 'up', mode: kind, latencyMs: expect.any(Number) },
        objectStorage: { status: 'up', mode: 'local-files', latencyMs: expect.any(Number) },
        redis: { status: 'up', mode: 'in-process', latencyMs: expect.any(Number) },
      },
    });
  });
});

describe('the embedded database', () => {
  it('is served on a Unix socket only its owner can reach, not on a TCP port, and removes it at close', async () => {
    const db = await createTestDatabase('embedded');
    const app = await startTestApp({ ...db.env, MODULES: 'health' });
    let socketDir = '';
    try {
      const url = new URL(app.app.get(DatabaseEndpoint).url);
      socketDir = url.searchParams.get('host') ?? '';
      expect(socketDir).toMatch(/^\//); // a directory: pg connects to its .s.PGSQL.5432
      expect(url.port).toBe('');
      expect(statSync(socketDir).mode & 0o777).toBe(0o700);
      expect(statSync(`${socketDir}/.s.PGSQL.5432`).isSocket()).toBe(true);
      expect(statSync(db.env.DATA_DIR + '/pgdata').mode & 0o777).toBe(0o700); // its files, the server's user's only
    } finally {
      await app.close();
      await db.dispose();
    }
    expect(() => statSync(socketDir)).toThrow(/ENOENT/);
  });

  it('removes the socket directory a crashed process left behind, and nothing else the record names', async () => {
    const db = await createTestDatabase('embedded');
    // A crash leaves the directory and the record of it (DATA_DIR/pgdata.socket-dir) behind.
    const left = mkdtempSync(join(tmpdir(), 'parley-db-'));
    writeFileSync(join(left, '.s.PGSQL.5432'), '');
    const record = join(db.env.DATA_DIR, 'pgdata.socket-dir');
    writeFileSync(record, left);
    const app = await startTestApp({ ...db.env, MODULES: 'health' });
    try {
      expect(() => statSync(left)).toThrow(/ENOENT/);
      const serving = new URL(app.app.get(DatabaseEndpoint).url).searchParams.get('host');
      expect(readFileSync(record, 'utf8')).toBe(serving);
    } finally {
      await app.close();
    }
    expect(existsSync(record)).toBe(false);

    // A record naming anything but such a directory of ours is dropped, and what it named kept.
    const elsewhere = mkdtempSync(join(tmpdir(), 'not-parley-'));
    writeFileSync(record, elsewhere);
    const again = await startTestApp({ ...db.env, MODULES: 'health' });
    try {
      expect(statSync(elsewhere).isDirectory()).toBe(true);
    } finally {
      await again.close();
      await db.dispose();
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('a stop signal while the embedded database is first starting', () => {
  it('is kept until the database is open, which is then closed in order, unlocked, and the start reports it stopped', async () => {
    const db = await createTestDatabase('embedded');
    const signals = new EventEmitter();
    const logs: string[] = [];
    try {
      const starting = createApp(loadConfig({ ...db.env, MODULES: 'health' }), new AppLogger('log', 'json', (line) => logs.push(line)), {
        shutdownHooks: true,
        signals,
      });
      // A first start makes the database's files, which takes seconds: the signal comes meanwhile.
      while (!existsSync(join(db.env.DATA_DIR, 'pgdata.lock'))) await pause(20);
      signals.emit('SIGTERM', 'SIGTERM');
      await expect(starting).rejects.toBeInstanceOf(StartInterrupted);
      expect(logs.some((line) => line.includes('SIGTERM received while starting'))).toBe(true);
      expect(logs.some((line) => line.includes('Embedded database closed'))).toBe(true);
      expect(existsSync(join(db.env.DATA_DIR, 'pgdata.lock'))).toBe(false);
      expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
      // What it made is whole: the next start opens it at once.
      const again = await startTestApp({ ...db.env, MODULES: 'health' });
      await again.close();
    } finally {
      await db.dispose();
    }
  });
});

describe('a stop signal while the start-up hooks run (the LOCAL seed)', () => {
  it('lets the seed finish, then closes in order and reports the start stopped', async () => {
    const db = await createTestDatabase('postgres');
    const signals = new EventEmitter();
    const logs: string[] = [];
    const hooks = () => process.listenerCount('SIGTERM');
    const before = hooks();
    try {
      const logger = new AppLogger('log', 'json', (line) => {
        logs.push(line);
        if (line.includes('Seeding the LOCAL data')) signals.emit('SIGTERM', 'SIGTERM');
      });
      const config = loadConfig({ ...db.env, APP_ENV: 'LOCAL', MODULES: 'auth,users,chats,messages,seeding' });
      await expect(createApp(config, logger, { shutdownHooks: true, signals })).rejects.toBeInstanceOf(StartInterrupted);
      const said = (text: string) => logs.findIndex((line) => line.includes(text));
      expect(said('SIGTERM received while starting')).toBeGreaterThan(said('Seeding the LOCAL data'));
      expect(said('Seeding done')).toBeGreaterThan(said('SIGTERM received while starting'));
      expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
      expect(hooks()).toBe(before); // Nest's process-wide hooks were never installed
    } finally {
      await db.dispose();
    }
  });
});

describe('the signals that stop the server', () => {
  it('are SIGTERM, SIGINT and SIGHUP; SIGUSR2 (heap snapshots) and the fault signals keep their meaning', async () => {
    const db = await createTestDatabase('postgres');
    const watched = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2', 'SIGQUIT', 'SIGABRT'] as const;
    const count = (emitter: NodeJS.EventEmitter) => Object.fromEntries(watched.map((s) => [s, emitter.listenerCount(s)]));
    const before = count(process);
    const signals = new EventEmitter();
    const logs: string[] = [];
    const app = await createApp(loadConfig({ ...db.env, MODULES: 'health' }), new AppLogger('error', 'json', (line) => logs.push(line)), {
      shutdownHooks: true,
      signals,
    });
    try {
      const during = count(signals);
      expect(watched.filter((s) => during[s] > 0)).toEqual(['SIGTERM', 'SIGINT', 'SIGHUP']);
      expect(count(process)).toEqual(before);
    } finally {
      await app.close();
      await db.dispose();
    }
    // Closed from code, not by a signal: no "stopped" line (that is for a stop by signal, below).
    expect(logs.filter((line) => line.includes('Parley stopped'))).toEqual([]);
  });

  it('close the server, then write a last line saying it stopped, after what it opened is closed', async () => {
    const db = await createTestDatabase('embedded');
    const signals = new EventEmitter();
    const logs: Array<{ level: string; msg: string }> = [];
    await createApp(
      loadConfig({ ...db.env, MODULES: 'auth,users,chats,messages,health' }),
      new AppLogger('log', 'json', (line) => logs.push(JSON.parse(line) as { level: string; msg: string })),
      { shutdownHooks: true, signals },
    );
    try {
      signals.emit('SIGTERM', 'SIGTERM');
      signals.emit('SIGTERM', 'SIGTERM'); // a second one while it stops changes nothing
      await eventually(() => logs.some((line) => line.msg.startsWith('Parley stopped')));
      const said = (text: string) => logs.findIndex((line) => line.msg.includes(text));
      expect(said('Embedded database closed')).toBeGreaterThan(-1);
      expect(logs.filter((line) => line.msg.startsWith('Parley stopped'))).toEqual([
        expect.objectContaining({ msg: 'Parley stopped (SIGTERM)' }),
      ]);
      expect(said('Parley stopped')).toBe(logs.length - 1);
      expect(signals.listenerCount('SIGTERM')).toBe(0);
      expect(existsSync(join(db.env.DATA_DIR, 'pgdata.lock'))).toBe(false);
    } finally {
      await db.dispose();
    }
  });

  it('say the server stopped at any LOG_LEVEL', async () => {
    const db = await createTestDatabase('postgres');
    const signals = new EventEmitter();
    const logs: string[] = [];
    await createApp(loadConfig({ ...db.env, MODULES: 'health' }), new AppLogger('error', 'json', (line) => logs.push(line)), {
      shutdownHooks: true,
      signals,
    });
    try {
      signals.emit('SIGINT', 'SIGINT');
      await eventually(() => signals.listenerCount('SIGINT') === 0);
      expect(logs.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['Parley stopped (SIGINT)']);
    } finally {
      await db.dispose();
    }
  });
});

describe('a start that fails after the database is up', () => {
  it('closes what it opened: the embedded database is unlocked, and this same process starts on it at once', async () => {
    const db = await createTestDatabase('embedded');
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const { port } = spare.address() as AddressInfo;
    await new Promise<void>((resolve) => spare.close(() => resolve())); // nothing listens there now
    const s3 = { S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: 'parley', S3_SECRET_KEY: 'parley-secret', S3_BUCKET: 'parley' };
    try {
      await expect(startTestApp({ ...db.env, ...s3, MODULES: 'auth,users,health' })).rejects.toThrow(/^S3_ENDPOINT is unreachable/);
      expect(existsSync(join(db.env.DATA_DIR, 'pgdata.lock'))).toBe(false);
      // As a container's restart would: the same pid, at once. A lock left behind refused it for 20 s.
      const again = await startTestApp({ ...db.env, MODULES: 'health' });
      await again.close();
    } finally {
      await db.dispose();
    }
  });
});

describe('the encoding of the database', () => {
  /** A database made as `make` says, left empty; the config for it; and a way to drop it. */
  const withDatabase = async (make: string, run: (env: { DATABASE_URL: string; DATA_DIR: string }) => Promise<void>) => {
    const name = `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-test-'));
    await adminQuery(`CREATE DATABASE ${name} TEMPLATE template0 ${make}`);
    try {
      await run({ DATABASE_URL: ADMIN_URL.replace(/\/[^/]*$/, `/${name}`), DATA_DIR: dataDir });
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  it('refuses one not encoded UTF8 before migrating anything, naming how to make one that is', async () => {
    await withDatabase(`ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`, async (env) => {
      const config = loadConfig({ ...env, MODULES: 'health' });
      await expect(createApp(config, new AppLogger('error', 'json', () => undefined))).rejects.toThrow(
        /^DATABASE_URL names database "parley_test_\w+", encoded SQL_ASCII .*needs UTF8.*CREATE DATABASE "parley_test_\w+" TEMPLATE template0 ENCODING 'UTF8'/,
      );
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      try {
        expect((await client.query(`SELECT to_regclass('users') AS users`)).rows).toEqual([{ users: null }]);
      } finally {
        await client.end();
      }
    });
  });

  it('warns, and still starts, when the database has migrations of a newer release', async () => {
    await withDatabase(`ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`, async (env) => {
      const first = await createApp(loadConfig({ ...env, MODULES: 'health' }), new AppLogger('error', 'json', () => undefined));
      await first.close();
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      try {
        await client.query(`INSERT INTO migrations (timestamp, name) VALUES (1899999999999, 'FromTheFuture1899999999999')`);
      } finally {
        await client.end();
      }
      const logs: string[] = [];
      const again = await createApp(loadConfig({ ...env, MODULES: 'health' }), new AppLogger('warn', 'json', (line) => logs.push(line)));
      await again.close();
      expect(logs.filter((line) => line.includes('1 migration(s) this release does not know (FromTheFuture1899999999999)'))).toHaveLength(
        1,
      );
    });
  });

  it('starts on UTF8 under LC_CTYPE C, warning that only A–Z fold', async () => {
    await withDatabase(`ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`, async (env) => {
      const logs: string[] = [];
      const app = await createApp(loadConfig({ ...env, MODULES: 'health' }), new AppLogger('warn', 'json', (line) => logs.push(line)));
      await app.close();
      expect(logs.filter((line) => line.includes('lower() folds only A–Z'))).toHaveLength(1);
    });
  });
});

describe('a database that cannot be reached', () => {
  /** An app on a database of its own, reached through a proxy the test can stall or cut. */
  async function behindProxy(env: Record<string, string> = {}) {
    const db = await createTestDatabase('postgres');
    const postgres = await tcpProxy(5432); // to the real server
    const app = await startTestApp(
      Object.assign({}, db.env, { DATABASE_URL: db.env.DATABASE_URL.replace(':5432/', `:${postgres.port}/`) }, env),
    );
    const close = async () => {
      await postgres.cut();
      await app.close();
      await db.dispose();
    };
    return { postgres, app, close };
  }

  it('stops the start with a sentence naming DATABASE_URL and the fix', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', MODULES: 'health' });
    await expect(createApp(config, new AppLogger('error', 'json', () => undefined))).rejects.toThrow(
      /^DATABASE_URL is unreachable: .*Start PostgreSQL there, fix DATABASE_URL, or unset it/,
    );
  });

  it('stops the start with one sentence when what answers there drops the connection (not PostgreSQL)', async () => {
    const dropper = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = dropper.address() as AddressInfo;
      const config = loadConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nowhere`, MODULES: 'health' });
      const failure = await createApp(config, new AppLogger('error', 'json', () => undefined)).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(SetupError); // said as one sentence, without a stack
      expect((failure as Error).message).toMatch(/^DATABASE_URL is unreachable: .*fix DATABASE_URL, or unset it/);
    } finally {
      dropper.close();
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After, not 500, while PostgreSQL cannot be reached', async () => {
    const db = await createTestDatabase('postgres');
    const postgres = await tcpProxy(5432); // to the real server, which the test cuts as if it went down
    const app = await startTestApp({ ...db.env, DATABASE_URL: db.env.DATABASE_URL.replace(':5432/', `:${postgres.port}/`) });
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      await postgres.cut();
      const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        for (const answer of [
          await request('POST', '/api/v1/auth/sign-in', { body: { email: account.user.email, password: account.password } }),
          await request('GET', '/api/v1/chats', { token: account.accessToken }),
          await request('GET', '/api/v1/users/me', { token: account.accessToken }),
        ]) {
          expectErrorShape(answer, 503, 'SERVICE_UNAVAILABLE');
          expect(answer.headers.get('retry-after')).toBe('5');
        }
        // An outage, not a bug: no stack per request, and at most one warning for the lot (one per
        // 10 s while it lasts, for the whole process: an earlier test's outage may have had it).
        expect(errors.mock.calls.filter(([first]) => JSON.stringify(first).includes('Unhandled error'))).toEqual([]);
        expect(
          warnings.mock.calls.map(([first]) => String(first)).filter((line) => line.includes('is unreachable or did not answer in time'))
            .length,
        ).toBeLessThanOrEqual(1);
      } finally {
        errors.mockRestore();
        warnings.mockRestore();
      }
    } finally {
      await app.close();
      await db.dispose();
    }
  });

  it('answers 503 when a statement waits past DATABASE_QUERY_TIMEOUT on a lock held elsewhere; the send, repeated after, is stored once', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp({ ...db.env, DATABASE_QUERY_TIMEOUT: '3' }); // PostgreSQL cancels at 2 s
    const locker = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await locker.connect();
    try {
      // Every connection of the app's pool says so: a session cut mid-transaction goes too, so its row locks do.
      const setting = async (name: string) =>
        ((await app.app.get(DataSource).query(`SHOW ${name}`)) as Array<Record<string, string>>)[0][name];
      expect([
        await setting('statement_timeout'),
        await setting('lock_timeout'),
        await setting('idle_in_transaction_session_timeout'),
      ]).toEqual(['2s', '1s', '3s']);
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      const chat = await request('POST', '/api/v1/chats', {
        token: account.accessToken,
        body: { type: 'group', title: 'Locked', memberIds: [] },
      });
      const send = () =>
        request('POST', `/api/v1/chats/${chat.body.id}/messages`, {
          token: account.accessToken,
          body: { text: 'through the lock', clientId: '00000000-0000-4000-8000-00000000c10c' },
        });
      // Someone else holds the chat's row (a long transaction, a stuck session): the send waited for as long as that lasted.
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM chats WHERE id = $1 FOR UPDATE', [chat.body.id]);
      const refused = await send();
      expectErrorShape(refused, 503, 'SERVICE_UNAVAILABLE');
      expect(refused.headers.get('retry-after')).toBe('5');
      await locker.query('ROLLBACK');

      expect((await send()).status).toBe(201);
      expect((await send()).status).toBe(200); // the same clientId: the stored one
      const stored = (await app.app
        .get(DataSource)
        .query('SELECT count(*)::int AS n FROM messages WHERE chat_id = $1', [chat.body.id])) as Array<{
        n: number;
      }>;
      expect(stored[0].n).toBe(1);
    } finally {
      await locker.end();
      await app.close();
      await db.dispose();
    }
  });

  it("gives up on the sends of a batch waiting on a locked chat after one more try, not one per send, and stores the other chats' sends", async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp({ ...db.env, DATABASE_QUERY_TIMEOUT: '3' });
    const locker = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await locker.connect();
    const repository = app.app.get(MessageRepository) as TypeormMessageRepository;
    const alone = jest.spyOn(repository as unknown as { appendOne(input: { chatId: string }): Promise<unknown> }, 'appendOne');
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      const [locked, free] = await Promise.all(
        ['Locked', 'Free'].map(async (title) => {
          const chat = await request('POST', '/api/v1/chats', {
            token: account.accessToken,
            body: { type: 'group', title, memberIds: [] },
          });
          return chat.body.id as string;
        }),
      );
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM chats WHERE id = $1 FOR UPDATE', [locked]);
      const send = (chatId: string, i: number) =>
        repository.append({ id: randomUUID(), chatId, senderId: account.user.id, clientId: null, text: `m${i}` });

      const results = await Promise.allSettled([...Array.from({ length: 8 }, (_, i) => send(locked, i)), send(free, 8), send(free, 9)]);

      // Given up on past lock_timeout (55P03), or past statement_timeout (57014) on a slow machine.
      expect(
        results
          .slice(0, 8)
          .map((r) => (r.status === 'rejected' ? ['57014', '55P03'].includes(String((r.reason as { code?: string }).code)) : 'stored')),
      ).toEqual(Array(8).fill(true));
      expect(results.slice(8).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      // Each alone would have waited the whole deadline again: one try per batch, the rest refused with it.
      const triedAlone = alone.mock.calls.filter(([input]) => input.chatId === locked).length;
      expect(triedAlone).toBeLessThan(8);
      await locker.query('ROLLBACK');
    } finally {
      alone.mockRestore();
      await locker.end();
      await app.close();
      await db.dispose();
    }
  });

  it('refuses a whole batch of sends at once when the database falls silent under it, trying none alone again', async () => {
    const { postgres, app, close } = await behindProxy({ DATABASE_QUERY_TIMEOUT: '2' });
    const repository = app.app.get(MessageRepository) as TypeormMessageRepository;
    const alone = jest.spyOn(repository as unknown as { appendOne(input: unknown): Promise<unknown> }, 'appendOne');
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      const chats = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const chat = await request('POST', '/api/v1/chats', {
            token: account.accessToken,
            body: { type: 'group', title: `Silent ${i}`, memberIds: [] },
          });
          return chat.body.id as string;
        }),
      );
      alone.mockClear();
      postgres.stall();

      const results = await Promise.allSettled(
        chats.map((chatId, i) => repository.append({ id: randomUUID(), chatId, senderId: account.user.id, clientId: null, text: `m${i}` })),
      );

      expect(results.map((r) => r.status)).toEqual(Array(8).fill('rejected'));
      // The first went alone (nothing was in flight); the batch behind it failed as a whole and was not retried send by send.
      expect(alone.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      alone.mockRestore();
      await close();
    }
  });

  it('answers 503 when the database falls silent mid-statement (its host hung, the network dropping everything), and drops that connection', async () => {
    const { postgres, app, close } = await behindProxy({ DATABASE_QUERY_TIMEOUT: '2' });
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      const pool = (app.app.get(DataSource).driver as unknown as { master: pg.Pool }).master;
      postgres.stall(); // nothing more goes either way, and no connection closes
      const before = pool.totalCount;

      const answer = await request('GET', '/api/v1/chats', { token: account.accessToken });

      expectErrorShape(answer, 503, 'SERVICE_UNAVAILABLE');
      // The connection that never got its answer is ended, not handed to the next request to wait behind it.
      expect(pool.totalCount).toBeLessThan(before);
    } finally {
      await close();
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE while the database refuses connections (ALLOW_CONNECTIONS false), and serves again after', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp(db.env);
    const name = new URL(db.env.DATABASE_URL).pathname.slice(1);
    try {
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      // The first request may meet a pooled connection the termination ended (57P01); the next
      // ones open new connections, which the database refuses (55000).
      for (let i = 0; i < 3; i++) {
        const refused = await request('GET', '/api/v1/chats', { token: account.accessToken });
        expectErrorShape(refused, 503, 'SERVICE_UNAVAILABLE');
        expect(refused.headers.get('retry-after')).toBe('5');
      }
      await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
      expect((await request('GET', '/api/v1/chats', { token: account.accessToken })).status).toBe(200);
    } finally {
      await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
      await app.close();
      await db.dispose();
    }
  });

  it('lives through PostgreSQL ending its sessions while sends are under way, answering each send or 503', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp({ ...db.env, RATE_LIMIT_MESSAGES_PER_USER: '100000' });
    const name = new URL(db.env.DATABASE_URL).pathname.slice(1);
    try {
      // Every connection has an error listener also while handed out (pg-pool drops its own then).
      const pool = (app.app.get(DataSource).driver as unknown as { master: pg.Pool }).master;
      const handedOut = await pool.connect();
      try {
        expect(handedOut.listenerCount('error')).toBeGreaterThan(0);
      } finally {
        handedOut.release();
      }
      // As a PostgreSQL restart or failover does: its sessions are ended, again and again, while
      // connections are being handed to waiting sends. Such an error landing in between killed the process.
      const request = httpClient(app.url);
      const account = await signUpAndIn(request);
      const chat = await request('POST', '/api/v1/chats', {
        token: account.accessToken,
        body: { type: 'group', title: 'Failover', memberIds: [] },
      });
      const statuses = new Set<number>();
      for (let round = 0; round < 8; round++) {
        const sends = Array.from({ length: 30 }, (_, i) =>
          request('POST', `/api/v1/chats/${chat.body.id}/messages`, { token: account.accessToken, body: { text: `r${round} m${i}` } }),
        );
        await pause(round % 3);
        await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
        for (const answer of await Promise.all(sends)) statuses.add(answer.status);
      }
      expect([...statuses].filter((status) => status !== 201 && status !== 503)).toEqual([]);
      const after = await request('POST', `/api/v1/chats/${chat.body.id}/messages`, {
        token: account.accessToken,
        body: { text: 'after' },
      });
      expect(after.status).toBe(201);
    } finally {
      await app.close();
      await db.dispose();
    }
  });

  it('turns /health/ready to 503 when the database goes away', async () => {
    const db = await createTestDatabase('postgres');
    const app = await startTestApp({ ...db.env, MODULES: 'health' });
    try {
      expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
      await db.dispose(); // DROP DATABASE … WITH (FORCE) cuts the app's connections
      const response = await fetch(`${app.url}/health/ready`);
      expect(response.status).toBe(503);
      const body: any = await response.json();
      expect(body.status).toBe('error');
      expect(body.dependencies.database).toMatchObject({ status: 'down', mode: 'postgres', error: expect.any(String) });
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
    } finally {
      await app.close().catch(() => undefined);
      await db.dispose(); // again, in case a failure came before the drop (it drops IF EXISTS)
    }
  });
});
