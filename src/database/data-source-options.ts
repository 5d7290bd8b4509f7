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
    extra: { max: embedded ? 1 : poolSize, connectionTimeoutMillis: 10_000, onConnect: keepErrorsHandled },
  };
}

/**
 * Every connection keeps an `error` listener for its whole life. pg-pool listens while a
 * connection is idle and stops when it hands it out; TypeORM starts listening only a promise turn
 * later. An error that lands in between (PostgreSQL ending its sessions, as a restart, a failover
 * or pg_terminate_backend does, often arrives in the same read as the answer that woke the
 * waiting caller) was an 'error' event with no listener: it killed the process. The query on that
 * connection fails by itself (503, "try again"), and the pool drops the connection when released.
 */
function keepErrorsHandled(client: { on(event: 'error', listener: (error: Error) => void): unknown }): void {
  client.on('error', () => undefined);
}
