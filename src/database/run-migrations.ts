import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { redact } from '../config/env-reader.js';
import { SetupError } from '../common/errors/setup-error.js';

/** Arbitrary but fixed: every Parley instance takes this advisory lock around migrations. */
const MIGRATION_LOCK_ID = 7_201_984_113;

/**
 * Applies pending migrations, one transaction each. Several instances may start at once against
 * one server, so they queue on an advisory lock and only the first applies anything. The lock is
 * held on a connection of its own, outside the pool, so it works with a pool of one.
 */
export async function runMigrations(dataSource: DataSource, url: string): Promise<string[]> {
  const logger = new Logger('Migrations');
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
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
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/**
 * Migrations the database has that this release does not: a newer release ran against it (a
 * rollback, or two releases side by side). Its schema may not be what this code expects; said at
 * once rather than found out from a failing query.
 */
async function warnOfNewerMigrations(dataSource: DataSource, logger: Logger): Promise<void> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const [{ present }] = (await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [table])) as Array<{ present: boolean }>;
  if (!present) return;
  const known = new Set(dataSource.migrations.map((m) => m.name ?? m.constructor.name));
  const applied = (await dataSource.query(`SELECT name FROM "${table}" ORDER BY timestamp, id`)) as Array<{ name: string }>;
  const unknown = applied.map((row) => row.name).filter((name) => !known.has(name));
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
