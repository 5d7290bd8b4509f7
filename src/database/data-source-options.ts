import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';

/** The application_name of the embedded database's connections, by which code can tell it apart. */
export const EMBEDDED_APPLICATION_NAME = 'parley-embedded';

/** TypeORM options shared by the app and the migration CLI. */
export function dataSourceOptions(url: string, embedded: boolean, poolSize: number): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // Query errors propagate to the caller and are logged there, with the request id.
    logging: false,
    applicationName: embedded ? EMBEDDED_APPLICATION_NAME : 'parley',
    // The embedded database has one backend session: see embedded-postgres.ts.
    extra: { max: embedded ? 1 : poolSize, connectionTimeoutMillis: 10_000 },
  };
}
