import { Logger, type LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppLogger } from '../common/logging/app-logger.js';
import { loadConfig } from '../config/app-config.js';
import type { Env } from '../config/env-reader.js';
import { explainConnectionError } from '../database/connection-errors.js';
import { dataSourceOptions } from '../database/data-source-options.js';
import { EmbeddedPostgres } from '../database/embedded-postgres.js';
import { runMigrations } from '../database/run-migrations.js';
import { isMain, runCli } from './cli-support.js';

/**
 * `npm run migration:run`: applies pending migrations to the configured database (DATABASE_URL,
 * or the embedded one under DATA_DIR) exactly as a start does, and returns their names. The app
 * migrates at start anyway; this is for deploys that migrate in a step of their own.
 */
export async function migrate(env: Env = process.env, logger?: LoggerService): Promise<string[]> {
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
    return await runMigrations(dataSource, url);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
  }
}

if (isMain(import.meta.url)) {
  runCli('Migration', async () => {
    const applied = await migrate();
    process.stdout.write(
      applied.length
        ? `Applied ${applied.length} migration(s); the schema is up to date.\n`
        : 'Nothing to apply: the schema is up to date.\n',
    );
  });
}
