import { Logger } from '@nestjs/common';
import pg from 'pg';

/** Arbitrary but fixed: every running server holds this advisory lock, shared; `npm run migration:revert` needs it alone. */
export const SERVERS_LOCK_ID = 7_201_984_114;

/** How long a server waits before it takes the lock again after losing its connection. */
const RETRY_MS = 5000;

/**
 * A running server's mark on its PostgreSQL database: the servers' advisory lock, held shared on a
 * connection of its own (outside the pool, whose connections come and go when idle) for as long as
 * the server runs, and taken again should that connection be lost (a database restart). So a
 * revert of migrations, which takes the lock alone, can tell that a server is running even when it
 * has been idle for a while. A server starting while a revert runs waits for it.
 */
export class ServerPresence {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly logger = new Logger('Database');

  constructor(private readonly url: string) {}

  /** Takes the lock; a failure here fails the start (the database was reachable a moment ago). */
  async start(): Promise<void> {
    await this.hold();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private async hold(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'parley-presence', keepAlive: true });
    client.on('error', () => undefined); // told through 'end', below
    client.once('end', () => {
      if (this.client === client) this.client = undefined;
      if (!this.stopped) this.holdLater();
    });
    await client.connect();
    await client.query('SELECT pg_advisory_lock_shared($1)', [SERVERS_LOCK_ID]);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  private holdLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.hold().catch((error: unknown) => this.logger.debug(`Could not take the servers' lock again yet: ${String(error)}`));
    }, RETRY_MS);
    this.retry.unref();
  }
}
