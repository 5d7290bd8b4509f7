import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DataDirLock } from './data-dir-lock.js';

/**
 * The in-process database used when DATABASE_URL is unset: PGlite (PostgreSQL compiled to
 * WebAssembly) with its data under DATA_DIR, served on a socket so the app talks to it with the
 * ordinary `pg` driver, exactly as it talks to a real server.
 *
 * The socket is a Unix socket in a directory only this user can enter: PGlite asks no password,
 * so on a loopback TCP port any local process (another user's, another container's sharing the
 * network) could read and rewrite every account. On Windows, which has no such sockets for `pg`,
 * it stays a loopback port.
 *
 * PGlite has a single backend session; the socket server queues every client's messages onto it
 * and pins the session to one client while that client is inside a transaction. The app still
 * uses a pool of ONE connection against it (data-source-options.ts): it gains nothing from more,
 * since the session runs one statement at a time, and transaction isolation then never depends on
 * the multiplexer. test/database.e2e-spec.ts checks overlapping transactions on it.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger('EmbeddedPostgres');

  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lock: DataDirLock,
    readonly url: string,
    /** The private directory holding the Unix socket, removed at stop. */
    private readonly socketDir: string | undefined,
  ) {}

  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    const logger = new Logger('EmbeddedPostgres');
    mkdirSync(dataDir, { recursive: true });
    const lock = DataDirLock.claim(join(dataDir, '..', `${dataDir.split('/').pop()}.lock`), `the embedded database in ${dataDir}`);

    const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
    logger.log(
      fresh
        ? `Creating the embedded database in ${dataDir} (first start takes a few seconds)…`
        : `Opening the embedded database in ${dataDir}…`,
    );
    const started = Date.now();
    let db: PGlite;
    try {
      db = await PGlite.create({ dataDir });
    } catch (error) {
      lock.release();
      throw new Error(
        `The embedded database in ${dataDir} could not be opened (${String(error)}); move that directory away to start fresh, or set DATABASE_URL to use PostgreSQL.`,
      );
    }
    // mkdtemp makes the directory 0700. Under the system's temporary directory rather than
    // DATA_DIR: a socket path must stay under ~100 bytes.
    const socketDir = process.platform === 'win32' ? undefined : mkdtempSync(join(tmpdir(), 'parley-db-'));
    const server = socketDir
      ? new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 16 })
      : new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    try {
      await server.start();
    } catch (error) {
      await db.close().catch(() => undefined);
      if (socketDir) rmSync(socketDir, { recursive: true, force: true });
      lock.release();
      throw new Error(`The embedded database could not be served (${String(error)}); set DATABASE_URL to use PostgreSQL.`);
    }
    const url = socketDir
      ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres@${server.getServerConn()}/postgres`;
    logger.log(`Embedded database ready in ${Date.now() - started} ms`);
    return new EmbeddedPostgres(db, server, lock, url, socketDir);
  }

  async stop(): Promise<void> {
    try {
      await this.server.stop();
      await this.db.close();
    } finally {
      if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
      this.lock.release();
    }
    this.logger.log('Embedded database closed');
  }
}
