import { Logger, type LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppLogger } from '../common/logging/app-logger.js';
import { loadConfig } from '../config/app-config.js';
import type { Env } from '../config/env-reader.js';
import { explainConnectionError } from '../database/connection-errors.js';
import { dataSourceOptions } from '../database/data-source-options.js';
import { EmbeddedPostgres } from '../database/embedded-postgres.js';
import { revertMigrations, runMigrations } from '../database/run-migrations.js';
import { CliError, isMain, runCli } from './cli-support.js';

/**
 * `npm run migration:run`: applies pending migrations to the configured database (DATABASE_URL,
 * or the embedded one under DATA_DIR) exactly as a start does, and returns their names. The app
 * migrates at start anyway; this is for deploys that migrate in a step of their own.
 */
export async function migrate(env: Env = process.env, logger?: LoggerService): Promise<string[]> {
  return withMigrationSource(env, logger, (dataSource, url) => runMigrations(dataSource, url));
}

/**
 * `npm run migration:revert [-- N]`: undoes the last N migrations (1 by default) the configured
 * database has applied, newest first, and returns their names. Run it with the release that
 * brought them, with every server stopped, before starting an earlier release.
 */
export async function revert(count: number, env: Env = process.env, logger?: LoggerService): Promise<string[]> {
  return withMigrationSource(env, logger, (dataSource, url) => revertMigrations(dataSource, url, count));
}

/** How many migrations `npm run migration:revert -- <argument>` asks for. */
export function revertCount(argument: string | undefined): number {
  if (argument === undefined) return 1;
  if (!/^[1-9]\d{0,3}$/.test(argument))
    throw new CliError(
      `npm run migration:revert -- N takes how many migrations to revert, a whole number from 1 (1 when left out); "${argument}" is not one.`,
    );
  return Number(argument);
}

/** Opens the configured database (DATABASE_URL, or the embedded one under DATA_DIR) on one connection for `work`, and closes it after. */
async function withMigrationSource<T>(
  env: Env,
  logger: LoggerService | undefined,
  work: (dataSource: DataSource, url: string) => Promise<T>,
): Promise<T> {
  const config = loadConfig(env);
  Logger.overrideLogger(logger ?? new AppLogger(config.log.level, config.log.format));
  const embedded = config.database.url ? undefined : await EmbeddedPostgres.start(config.database.embeddedDir);
  const url = config.database.url ?? embedded!.url;
  const dataSource = new DataSource(dataSourceOptions(url, embedded !== undefined, 1));
  try {
    try {
      await dataSource.initialize();
    } catch (error) {
      throw explainConnectionError(error, url);
    }
    return await work(dataSource, url);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
  }
}

if (isMain(import.meta.url)) {
  if (process.argv[2] === 'revert') {
    runCli('Reverting migrations', async () => {
      const reverted = await revert(revertCount(process.argv[3]));
      process.stdout.write(
        reverted.length
          ? `Reverted ${reverted.length} migration(s): ${reverted.join(', ')}.\n`
          : 'Nothing to revert: the database has no migrations applied.\n',
      );
    });
  } else {
    runCli('Migration', async () => {
      const applied = await migrate();
      process.stdout.write(
        applied.length
          ? `Applied ${applied.length} migration(s); the schema is up to date.\n`
          : 'Nothing to apply: the schema is up to date.\n',
      );
    });
  }
}
