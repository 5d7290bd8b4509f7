import pg from 'pg';
import { QUERY_READ_TIMEOUT, deadlineClient } from '../src/database/deadline-client.js';
import { ADMIN_URL } from './support/databases.js';
import { tcpProxy, type TcpProxy } from './support/proxy.js';
import { eventually } from './support/ws.js';

/** Timers the process holds now (what node-postgres's query_timeout would add one of per query). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

describe('the database deadline on queries (deadlineClient, against PostgreSQL through a proxy)', () => {
  const DEADLINE_MS = 1000;
  let proxy: TcpProxy;
  let pool: pg.Pool;
  let Client: ReturnType<typeof deadlineClient>;

  beforeEach(async () => {
    proxy = await tcpProxy(Number(new URL(ADMIN_URL).port || 5432), new URL(ADMIN_URL).hostname);
    const url = new URL(ADMIN_URL);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    Client = deadlineClient(DEADLINE_MS);
    pool = new pg.Pool({ connectionString: url.toString(), max: 10, Client });
  });

  afterEach(async () => {
    await proxy.cut();
    await pool.end().catch(() => undefined);
  });

  it('fails a query the database never answers with "Query read timeout" after the deadline, and ends its connection', async () => {
    const client = await pool.connect();
    await client.query('SELECT 1');
    proxy.stall();
    const started = Date.now();

    const stuck = client.query('SELECT 2');
    const queued = client.query('SELECT 3'); // behind it on the same connection

    await expect(stuck).rejects.toThrow(QUERY_READ_TIMEOUT);
    const waited = Date.now() - started;
    await expect(queued).rejects.toThrow(/Connection terminated/);
    expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS);
    expect(waited).toBeLessThan(DEADLINE_MS + 2000); // two ticks of 100 ms, and room for a loaded machine
    client.release();
    expect(pool.totalCount).toBe(0);
  });

  it('fails a query without a callback (a stream, a cursor) through its error event', async () => {
    const client = await pool.connect();
    proxy.stall();
    const query = client.query(new pg.Query('SELECT 2'));

    const failed = await new Promise<Error>((resolve) => query.once('error', resolve));

    expect(failed.message).toBe(QUERY_READ_TIMEOUT);
    client.release();
  });

  it('gives each query the whole deadline: queries answered in time one after another never fail, however long they take together', async () => {
    const client = await pool.connect();
    try {
      for (let i = 0; i < 3; i++) await client.query('SELECT pg_sleep(0.6)'); // 1.8 s on one connection
    } finally {
      client.release();
    }
    expect(pool.totalCount).toBe(1);
  });

  it('arms no timer per query, and lets go of its connections once they end', async () => {
    const before = timers();
    const queries = Array.from({ length: 40 }, () => pool.query('SELECT pg_sleep(0.2)'));
    await new Promise((resolve) => setTimeout(resolve, 50)); // all sent or queued
    const during = timers();
    expect(Client.watched).toBe(10);
    await Promise.all(queries);
    await pool.end();

    expect(during - before).toBeLessThanOrEqual(1); // this test's own timer, if it is still listed (the watch's is unref'd, so never)
    await eventually(() => Client.watched === 0); // each connection's 'end' (and with none left, the watch's interval is cleared)
  });

  it('lets go of connections that never opened', async () => {
    await proxy.cut(); // nothing listens on its port any more
    await expect(pool.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await expect(pool.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);

    expect(pool.totalCount).toBe(0);
    await eventually(() => Client.watched === 0);
  });
});
