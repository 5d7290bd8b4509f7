import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DataDirLock } from './data-dir-lock.js';

/**
 * The in-process database used when DATABASE_URL is unset: PGlite (PostgreSQL compiled to
 * WebAssembly) with its data under DATA_DIR, served on a loopback port so the app talks to it
 * with the ordinary `pg` driver, exactly as it talks to a real server.
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
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    const address = server.getServerConn();
    logger.log(`Embedded database ready in ${Date.now() - started} ms`);
    return new EmbeddedPostgres(db, server, lock, `postgres://postgres@${address}/postgres`);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    this.lock.release();
    this.logger.log('Embedded database closed');
  }
}
