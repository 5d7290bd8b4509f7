import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { deadlineClient } from './deadline-client.js';

/** The application_name of the embedded database's connections, by which code can tell it apart. */
export const EMBEDDED_APPLICATION_NAME = 'parley-embedded';

/** How long opening a connection may take; less when DATABASE_QUERY_TIMEOUT is shorter. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long a statement may take (DATABASE_QUERY_TIMEOUT). PostgreSQL cancels it after two thirds
 * of that (statement_timeout: a lock held elsewhere, say); the driver gives up on the whole of it
 * (the database's host or the network went silent, and nothing would ever answer) and ends the
 * connection: deadlineClient. The embedded database (PGlite) honours no statement_timeout, and
 * runs each statement inside this process, which the watch cannot interrupt: there no limit
 * applies in effect.
 */
export interface QueryDeadline {
  seconds: number;
}

/**
 * TypeORM options shared by the app and the migration CLI. Without a deadline (migrations, which
 * may rightly take long on a big table), statements run as long as they take.
 */
export function dataSourceOptions(url: string, embedded: boolean, poolSize: number, deadline?: QueryDeadline): DataSourceOptions {
  const ms = deadline ? deadline.seconds * 1000 : undefined;
  const bounds = ms
    ? {
        statement_timeout: Math.max(1, Math.round((ms * 2) / 3)),
        // A row lock held elsewhere is given up on sooner, so a batch of sends learns which chat is
        // held, and the others in it are stored, well within the deadline.
        lock_timeout: Math.max(1, Math.round(ms / 3)),
        // A session the network cut mid-transaction (PostgreSQL never heard the close) would keep its
        // row locks until TCP keepalive notices, two hours by default.
        idle_in_transaction_session_timeout: ms,
        connectionTimeoutMillis: Math.min(CONNECT_TIMEOUT_MS, ms),
        // The driver's part (the database sent no answer in time) is deadlineClient's rather than
        // node-postgres's query_timeout, which costs a timer per query.
        Client: deadlineClient(ms),
      }
    : {};
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
    // keepAlive: a connection whose peer vanished (a host gone without closing its sockets) is
    // found dead by the kernel's probes rather than kept for ever by the pool.
    extra: Object.assign(
      { max: embedded ? 1 : poolSize, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, onConnect: keepErrorsHandled },
      bounds,
    ),
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
