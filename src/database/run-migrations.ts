import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSource } from 'typeorm';

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
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
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
