import pg from 'pg';

/** node-postgres's words when a query's `query_timeout` runs out; the deadline below fails a query with the same. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

/** The parts of node-postgres's client and query the deadline reads: not in its typings. */
interface QueryInFlight {
  callback?: (error: Error) => void;
  handleError(error: Error, connection: unknown): void;
}
interface ClientInternals {
  _getActiveQuery(): QueryInFlight | null | undefined;
  connection: unknown;
}

/**
 * node-postgres's client class for a pool whose queries may wait at most `ms` for their answer:
 * a query the database has not answered by then (its host hangs, or the network between drops
 * everything) fails with 'Query read timeout', and its connection is ended. Left open, the
 * connection would still wait for that answer: every later query on it (the ROLLBACK after the
 * failure, the next request the pool hands it to) would queue behind it. Ended, they fail at
 * once, and the pool drops it when it is released.
 *
 * node-postgres's own `query_timeout` does the first half with a timer per query. That timer,
 * linked into Node's long-lived list of timers until it is cleared, kept every query's objects
 * (its rows, its promise, what waits on it) alive past the young generation's collections: at the
 * bench's 25% load the old generation grew ~2.3 MB/s instead of ~0.1 MB/s, with twice the time in
 * garbage collection. So one watch per pool looks at each connection's query in flight a few
 * times a second instead, and nothing is allocated per query. A query fails between `ms` and
 * `ms` plus two of its ticks (a tick is a tenth of `ms`, 100 ms to 1 s) after it was sent.
 */
export function deadlineClient(ms: number): typeof pg.Client & { readonly watched: number } {
  const watch = new QueryWatch(ms);
  return class DeadlineClient extends pg.Client {
    /** How many connections the watch looks at: those open or opening. */
    static get watched(): number {
      return watch.size;
    }

    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // The watch reads node-postgres's query in flight through a method its typings leave out; a
      // release without it stops the start here rather than the process at the watch's first tick.
      if (typeof (this as unknown as Partial<ClientInternals>)._getActiveQuery !== 'function')
        throw new Error(
          `This node-postgres (pg) has no _getActiveQuery(), which the DATABASE_QUERY_TIMEOUT watch reads: install the pg version package-lock.json names.`,
        );
      watch.add(this);
      this.once('end', () => watch.delete(this));
    }
  };
}

/** The query each connection was seen waiting on, and since when. */
interface Sighting {
  query: QueryInFlight;
  since: number;
}

class QueryWatch {
  private readonly clients = new Map<pg.Client, Sighting | null>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(private readonly ms: number) {
    this.tickMs = Math.min(1000, Math.max(100, Math.round(ms / 10)));
  }

  get size(): number {
    return this.clients.size;
  }

  add(client: pg.Client): void {
    this.clients.set(client, null);
    if (!this.timer) {
      this.timer = setInterval(() => this.look(), this.tickMs);
      this.timer.unref();
    }
  }

  delete(client: pg.Client): void {
    this.clients.delete(client);
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private look(): void {
    const now = Date.now();
    for (const [client, seen] of this.clients) {
      const query = (client as unknown as ClientInternals)._getActiveQuery();
      if (!query) {
        if (seen) this.clients.set(client, null);
      } else if (seen?.query !== query) {
        this.clients.set(client, { query, since: now });
      } else if (now - seen.since >= this.ms) {
        this.clients.set(client, null);
        giveUp(client, query);
      }
    }
  }
}

/** Fails `query` as node-postgres's query_timeout does, then ends its connection (which fails the queries queued behind it). */
function giveUp(client: pg.Client, query: QueryInFlight): void {
  const error = new Error(QUERY_READ_TIMEOUT);
  const connection = (client as unknown as ClientInternals).connection;
  const callback = query.callback;
  // A query with a callback (every promise query) hears of it through it; one without (a stream, a
  // cursor) through its own error handling, which emits 'error'. Either way once: what the ended
  // connection reports after goes to the no-op callback left in place.
  if (callback) callback(error);
  else query.handleError(error, connection);
  query.callback = () => undefined;
  // With a query in flight, end() destroys the socket rather than wait for it to finish.
  client.end().catch(() => undefined);
}
