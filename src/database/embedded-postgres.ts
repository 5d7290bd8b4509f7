import { accessSync, constants, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DataDirLock, fsFix } from './data-dir-lock.js';
import { errorMessage } from '../common/errors/error-message.js';
import { SetupError } from '../common/errors/setup-error.js';
import { makeDirectorySync } from '../common/fs/make-directory.js';

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
 *
 * The socket's directory is named in a file next to the data directory's lock, so a start after
 * a crash removes the one the crashed process left in the temporary directory; and it is touched
 * every hour, so a cleaner of old temporary files (systemd-tmpfiles ages them out after 10 days)
 * does not take the socket from under a server that has run that long.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger('EmbeddedPostgres');
  private readonly keepFresh?: NodeJS.Timeout;

  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lock: DataDirLock,
    readonly url: string,
    /** The private directory holding the Unix socket, removed at stop. */
    private readonly socketDir: string | undefined,
    private readonly socketDirRecord: string,
  ) {
    if (socketDir) {
      this.keepFresh = setInterval(() => touch(socketDir), KEEP_FRESH_MS);
      this.keepFresh.unref();
    }
  }

  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    const logger = new Logger('EmbeddedPostgres');
    try {
      // Only the server's user may read the database's files (a new directory; an existing one is left as it is).
      makeDirectorySync(dataDir, 0o700);
      // PGlite reports a directory it may not enter only as an emscripten error number, later.
      accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new SetupError(unusableDataDir(dataDir, error));
    }
    const lock = DataDirLock.claim(join(dataDir, '..', `${basename(dataDir)}.lock`), `the embedded database in ${dataDir}`);
    if (lock.leftBy)
      logger.warn(
        `The last process on ${dataDir} (${lock.leftBy}) did not stop cleanly (killed, or its machine stopped): the database recovers as it opens. What that process had committed survives it; a machine crash or power loss can lose the last writes (the embedded database does not flush to disk; see DATABASE_URL for that).`,
      );
    // Holding the lock, this is the only process serving this data directory: a socket directory
    // recorded for it belongs to one that is gone.
    const socketDirRecord = join(dataDir, '..', `${basename(dataDir)}.socket-dir`);
    removeLeftSocketDir(socketDirRecord);

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
      const { reason, fix } = describeOpenError(error);
      throw new SetupError(
        `The embedded database in ${dataDir} could not be opened (${reason}): ${fix}; or set DATABASE_URL to use PostgreSQL.`,
      );
    }
    // mkdtemp makes the directory 0700. Under the system's temporary directory rather than
    // DATA_DIR: a socket path must stay under ~100 bytes.
    const socketDir = process.platform === 'win32' ? undefined : mkdtempSync(join(tmpdir(), SOCKET_DIR_PREFIX));
    if (socketDir) writeFileSync(socketDirRecord, socketDir);
    const server = socketDir
      ? new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 16 })
      : new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    try {
      await server.start();
    } catch (error) {
      await db.close().catch(() => undefined);
      removeSocketDir(socketDir, socketDirRecord);
      lock.release();
      throw new Error(`The embedded database could not be served (${errorMessage(error)}); set DATABASE_URL to use PostgreSQL.`, {
        cause: error,
      });
    }
    const url = socketDir
      ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres@${server.getServerConn()}/postgres`;
    logger.log(`Embedded database ready in ${Date.now() - started} ms`);
    return new EmbeddedPostgres(db, server, lock, url, socketDir, socketDirRecord);
  }

  async stop(): Promise<void> {
    clearInterval(this.keepFresh);
    try {
      await this.server.stop();
      await this.db.close();
    } finally {
      removeSocketDir(this.socketDir, this.socketDirRecord);
      this.lock.release();
    }
    this.logger.log('Embedded database closed');
  }
}

const SOCKET_DIR_PREFIX = 'parley-db-';
const KEEP_FRESH_MS = 60 * 60_000;

function removeSocketDir(socketDir: string | undefined, record: string): void {
  if (!socketDir) return;
  rmSync(socketDir, { recursive: true, force: true });
  rmSync(record, { force: true });
}

/**
 * Removes the socket directory a crashed process left, if the record names one this process
 * could have made: a directory of ours, directly under the temporary directory, with our prefix.
 * The record is only a hint; anything else it names is left alone.
 */
function removeLeftSocketDir(record: string): void {
  let left: string;
  try {
    left = readFileSync(record, 'utf8').trim();
  } catch {
    return;
  }
  const ours = dirname(left) === tmpdir() && basename(left).startsWith(SOCKET_DIR_PREFIX) && ownDirectory(left);
  if (ours) rmSync(left, { recursive: true, force: true });
  rmSync(record, { force: true });
}

function ownDirectory(path: string): boolean {
  try {
    const stat = lstatSync(path);
    return stat.isDirectory() && (typeof process.getuid !== 'function' || stat.uid === process.getuid());
  } catch {
    return false;
  }
}

function touch(socketDir: string): void {
  const now = new Date();
  for (const path of [socketDir, join(socketDir, '.s.PGSQL.5432')]) {
    try {
      utimesSync(path, now, now);
    } catch {
      // Already gone: nothing a touch could save.
    }
  }
}

/** Why DATA_DIR/pgdata cannot be used, and what to do, in a sentence. */
function unusableDataDir(dataDir: string, error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return `DATA_DIR cannot hold the database in ${dataDir} (${code ?? message}): ${fsFix(code)}; or set DATA_DIR elsewhere, or set DATABASE_URL.`;
}

/** Emscripten numbers errors as WASI does; these are the ones PGlite's file system raises. */
const WASI_ERRORS: Record<number, { code: string; fresh: boolean }> = {
  2: { code: 'EACCES', fresh: false },
  20: { code: 'EEXIST', fresh: true },
  29: { code: 'EIO', fresh: false },
  44: { code: 'ENOENT', fresh: true },
  51: { code: 'ENOSPC', fresh: false },
  54: { code: 'ENOTDIR', fresh: true },
  63: { code: 'EPERM', fresh: false },
  69: { code: 'EROFS', fresh: false },
};

/**
 * Why PGlite could not open the directory, and what to do. It throws emscripten's ErrnoError, a
 * plain object whose String() is "[object Object]".
 */
export function describeOpenError(error: unknown): { reason: string; fix: string } {
  const startFresh = 'move that directory away to start fresh';
  if (error instanceof Error) return { reason: error.message, fix: startFresh };
  const { errno } = (error ?? {}) as { errno?: unknown };
  const known = typeof errno === 'number' ? WASI_ERRORS[errno] : undefined;
  if (!known) return { reason: inspect(error, { depth: 1, breakLength: Infinity }), fix: startFresh };
  return { reason: `${known.code}, errno ${errno as number}`, fix: known.fresh ? startFresh : fsFix(known.code) };
}
