import pg from 'pg';

/** node-postgres's words when a query's `query_timeout` runs out. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

/**
 * node-postgres's client, but a query that timed out (query_timeout: the database sent no answer
 * in time, as when its host hangs or the network between drops everything) ends the connection.
 * Left open, the connection still waits for that answer: every later query on it (the ROLLBACK
 * after the failure, the next request the pool hands it to) would queue behind and wait out its own
 * timeout. Ended, they fail at once, and the pool drops it when it is released.
 */
export class DeadlineClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.query = ((...args: unknown[]) => {
      // Looked up at each call, so whatever wraps the prototype's (a test's recorder) still sees every query.
      const result = (pg.Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise)
        result.catch((error: unknown) => {
          if (error instanceof Error && error.message === QUERY_READ_TIMEOUT) this.end().catch(() => undefined);
        });
      return result;
    }) as pg.Client['query'];
  }
}
