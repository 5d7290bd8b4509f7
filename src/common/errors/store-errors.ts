/**
 * What the stores' drivers (PostgreSQL, MongoDB, Redis) throw, read for what it says about the
 * store: away or too slow (an outage, which error-body.ts answers 503), a statement past its
 * timeout, or a session ended under a statement.
 */

/** Socket-level and server-shutdown failures of the drivers (PostgreSQL, MongoDB, Redis): the service is away, the request was fine. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '53300', // too_many_connections: the server's connection slots are all taken
  '57014', // query_canceled: past statement_timeout (DATABASE_QUERY_TIMEOUT), e.g. waiting on a lock held elsewhere
  '55P03', // lock_not_available: past lock_timeout (a third of DATABASE_QUERY_TIMEOUT), a row held elsewhere
  '25P03', // idle_in_transaction_session_timeout: the session was ended
]);
/** The drivers' own connection failures (node-postgres's and the pool's own words, not the server's). */
const UNREACHABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)/;
/**
 * PostgreSQL refusing connections to the database for a while (`ALTER DATABASE … ALLOW_CONNECTIONS
 * false`, as in maintenance): 55000, a code it shares with failures that are not outages, told
 * apart by the server function that refused (the error's `routine`, which no locale translates).
 */
const REFUSING_CONNECTIONS = { code: '55000', routine: 'CheckMyDatabase' };
const UNREACHABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoServerClosedError',
  'MongoClientClosedError',
]);

/** Whether `error` (or the driver error a QueryFailedError wraps) says the database could not be reached. */
export function isStoreUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 3; depth++) {
    const { code, name, message, routine } = e as { code?: unknown; name?: unknown; message?: unknown; routine?: unknown };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (code === REFUSING_CONNECTIONS.code && routine === REFUSING_CONNECTIONS.routine) return true;
    if (typeof name === 'string' && UNREACHABLE_NAMES.has(name)) return true;
    if (typeof message === 'string' && UNREACHABLE_MESSAGES.test(message)) return true;
    e = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The driver's own error: what a TypeORM QueryFailedError wraps, or the error itself. */
export function driverErrorOf(error: unknown): { code?: unknown; message?: unknown; constraint?: unknown } {
  return ((error as { driverError?: unknown } | undefined)?.driverError ?? error ?? {}) as { code?: unknown };
}

/**
 * Whether `error` is PostgreSQL giving up on a statement past its statement_timeout or
 * lock_timeout: the database is there, but this statement waited too long, often on a lock only
 * some rows are under.
 */
export function isStatementTimeout(error: unknown): boolean {
  const { code } = driverErrorOf(error);
  return code === '57014' || code === '55P03';
}

/**
 * Whether `error` says the database never ran the statement or never answered it in time (no
 * connection to be had, or none answering): an outage that the same statement, tried again at
 * once, would meet again. Not a session ended under a statement (a restart, a failover,
 * pg_terminate_backend), after which a new connection often works.
 */
export function isOutageBeforeAnswer(error: unknown): boolean {
  if (!isStoreUnreachable(error) || isStatementTimeout(error)) return false;
  const { code, message } = driverErrorOf(error);
  if (typeof code === 'string' && SESSION_ENDED_CODES.has(code)) return false;
  return !(typeof message === 'string' && message.startsWith('Connection terminated'));
}

/** The drivers' and PostgreSQL's words for a session ended under a statement. */
const SESSION_ENDED_CODES = new Set(['57P01', '57P02', '08000', '08003', '08006', '25P03', 'ECONNRESET', 'EPIPE']);
