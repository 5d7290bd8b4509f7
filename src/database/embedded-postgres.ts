import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

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
    private readonly lockFile: string,
    readonly url: string,
  ) {}

  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    const logger = new Logger('EmbeddedPostgres');
    mkdirSync(dataDir, { recursive: true });
    const lockFile = join(dataDir, '..', `${dataDir.split('/').pop()}.lock`);
    claimLock(lockFile, dataDir);

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
      rmSync(lockFile, { force: true });
      throw new Error(
        `The embedded database in ${dataDir} could not be opened (${String(error)}); move that directory away to start fresh, or set DATABASE_URL to use PostgreSQL.`,
      );
    }
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    const address = server.getServerConn();
    logger.log(`Embedded database ready in ${Date.now() - started} ms`);
    return new EmbeddedPostgres(db, server, lockFile, `postgres://postgres@${address}/postgres`);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    rmSync(this.lockFile, { force: true });
    this.logger.log('Embedded database closed');
  }
}

/** Two processes writing one PGlite directory would corrupt it; refuse the second clearly. */
function claimLock(lockFile: string, dataDir: string): void {
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' }); // exclusive: of two racing starts, one wins
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const pid = Number(readFileSync(lockFile, 'utf8').trim());
  if (pid && pid !== process.pid && isAlive(pid)) {
    throw new Error(
      `Another Parley process (pid ${pid}) is using the embedded database in ${dataDir}; stop it, set DATA_DIR to another directory, or set DATABASE_URL to share a PostgreSQL server between instances.`,
    );
  }
  writeFileSync(lockFile, String(process.pid)); // left behind by a process that is gone
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
