import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { redact } from '../config/env-reader.js';
import { SetupError } from '../common/errors/setup-error.js';
import { SERVERS_LOCK_ID } from './server-presence.js';

/** Arbitrary but fixed: every Parley instance takes this advisory lock around migrations. */
const MIGRATION_LOCK_ID = 7_201_984_113;

/**
 * Applies pending migrations, one transaction each. Several instances may start at once against
 * one server, so they queue on an advisory lock and only the first applies anything. The lock is
 * held on a connection of its own, outside the pool, so it works with a pool of one.
 */
export async function runMigrations(dataSource: DataSource, url: string): Promise<string[]> {
  const logger = new Logger('Migrations');
  return onLockConnection(url, async (lock) => {
    await checkEncoding(lock, url, logger);
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await warnOfNewerMigrations(dataSource, logger);
    if (!(await dataSource.showMigrations())) {
      logger.log('Schema is up to date');
      return [];
    }
    logger.log('Applying migrations…');
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.log(`Applied ${migration.name}`);
    return applied.map((m) => m.name);
  });
}

/**
 * Undoes the last `count` migrations the database has applied, newest first, one transaction
 * each, under the lock runMigrations takes; answers their names. For going back to an earlier
 * release: run it with the release whose migrations are to go (it has their `down`), while no
 * server is connected, since a server of that release would fail on the older schema.
 */
export async function revertMigrations(dataSource: DataSource, url: string, count: number): Promise<string[]> {
  const logger = new Logger('Migrations');
  return onLockConnection(url, async (lock) => {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await refuseWhileServersRun(lock, dataSource);
    const known = knownMigrations(dataSource);
    const reverted: string[] = [];
    while (reverted.length < count) {
      const last = (await appliedMigrations(dataSource)).at(-1);
      if (last === undefined) break;
      if (!known.has(last))
        throw new SetupError(
          `The database's last migration, ${last}, is not in this release: a newer Parley applied it. Revert it with that release (npm run migration:revert there), then run this one again.`,
        );
      await dataSource.undoLastMigration({ transaction: 'each' });
      logger.log(`Reverted ${last}`);
      reverted.push(last);
    }
    return reverted;
  });
}

/**
 * Runs `work` on a connection of its own, outside the pool (so it works with a pool of one), on
 * which the caller takes the migration lock; closing it lets go of every lock taken there.
 */
async function onLockConnection<T>(url: string, work: (lock: pg.Client) => Promise<T>): Promise<T> {
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    return await work(lock);
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** The names of the migrations this release has. */
function knownMigrations(dataSource: DataSource): Set<string> {
  return new Set(dataSource.migrations.map((m) => m.name ?? m.constructor.name));
}

/** The names of the migrations the database has applied, first applied first; none when it has no migrations table. */
async function appliedMigrations(dataSource: DataSource): Promise<string[]> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const [{ present }] = (await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [table])) as Array<{ present: boolean }>;
  if (!present) return [];
  // In the order they were applied, which is the order TypeORM undoes them in (by id).
  const rows = (await dataSource.query(`SELECT name FROM "${table}" ORDER BY id`)) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

/**
 * A revert under running servers would pull the schema from under their statements. Each server
 * holds the servers' lock, shared, while it runs (ServerPresence): taken here alone, on `lock`'s
 * session until it ends, it also keeps servers from starting meanwhile. Servers of a release
 * without that lock are still seen by their connections, named 'parley' (application_name; the
 * revert's own is left out), though an idle one may have none open.
 */
async function refuseWhileServersRun(lock: pg.Client, dataSource: DataSource): Promise<void> {
  const { rows } = await lock.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1) AS free', [SERVERS_LOCK_ID]);
  if (!rows[0].free)
    throw new SetupError(
      'A Parley server is running on this database (each holds a lock on it while it runs): stop every server first (a server of this release would fail on the older schema), revert, then start the earlier release.',
    );
  const [{ servers }] = (await dataSource.query(
    `SELECT count(*)::int AS servers FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
    [(dataSource.options as { applicationName?: string }).applicationName],
  )) as Array<{ servers: number }>;
  if (servers > 0)
    throw new SetupError(
      `${servers} connection(s) of a running Parley server are open on this database: stop every server first (a server of this release would fail on the older schema), revert, then start the earlier release.`,
    );
}

/**
 * Migrations the database has that this release does not: a newer release ran against it (a
 * rollback, or two releases side by side). Its schema may not be what this code expects; said at
 * once rather than found out from a failing query.
 */
async function warnOfNewerMigrations(dataSource: DataSource, logger: Logger): Promise<void> {
  const known = knownMigrations(dataSource);
  const unknown = (await appliedMigrations(dataSource)).filter((name) => !known.has(name));
  if (unknown.length > 0)
    logger.warn(
      `The database has ${unknown.length} migration(s) this release does not know (${unknown.join(', ')}): a newer Parley ran against it, and its schema may not be what this release expects. Run the newer release, or restore a backup taken before it.`,
    );
}

/**
 * Names, titles and messages are Unicode, and the schema leans on lower() and length() (unique
 * group titles in any case, the name search): in a database not encoded UTF8 (SQL_ASCII, say,
 * what a cluster made without a locale gets) they work on bytes, so that is refused. Where
 * lower() folds A–Z only (the C or POSIX character type of libc), it starts with a warning: asked
 * of lower() itself, since under ICU or PostgreSQL 17's builtin provider the type can read C and
 * fold everything.
 */
async function checkEncoding(client: pg.Client, url: string, logger: Logger): Promise<void> {
  const { rows } = await client.query<{ name: string; encoding: string; folds: boolean | null }>(
    `SELECT datname AS name, pg_encoding_to_char(encoding) AS encoding,
            CASE WHEN pg_encoding_to_char(encoding) = 'UTF8' THEN lower(chr(196)) = chr(228) END AS folds
       FROM pg_database WHERE datname = current_database()`,
  );
  const [database] = rows;
  if (!database) return;
  // C.UTF-8 is on Debian and most Linux; elsewhere any UTF-8 locale the server has (en_US.UTF-8, say).
  const remake = `CREATE DATABASE "${database.name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' (or another UTF-8 locale the server has)`;
  if (database.encoding !== 'UTF8') {
    throw new SetupError(
      `DATABASE_URL names database "${database.name}", encoded ${database.encoding} (${redact(url)}); Parley needs UTF8, since it stores Unicode text and compares it case-insensitively. Create the database again (while it is empty) with: ${remake}`,
    );
  }
  if (database.folds === false) {
    logger.warn(
      `In database "${database.name}" lower() folds only A–Z (LC_CTYPE C or POSIX), so group titles that differ only in the case of other letters (Ä, ä) count as different, and the user search is case-sensitive for them. A database made with: ${remake} folds them all.`,
    );
  }
}
