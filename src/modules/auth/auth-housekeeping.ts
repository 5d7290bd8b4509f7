import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Periodic, removeInBatches } from '../../common/concurrency/periodic.js';
import { returnedRows } from '../../database/sql.js';

/**
 * Removes sessions and emailed links a day past their expiry, which nothing reads any more: a
 * session's rows would otherwise stay for ever, one per sign-in. A revoked session stays until its
 * expiry too, so that its refresh token, presented again while it could still be valid, is still
 * recognised. Every instance runs it, hourly; two at once only share the work.
 */
@Injectable()
export class AuthHousekeeping implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Auth');
  private readonly periodic = new Periodic('remove expired sessions and links', 60 * 60_000, () => this.run(), this.logger);

  constructor(private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    this.periodic.start(60_000);
  }

  /** Before the database closes. */
  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass; says how many rows of each kind went. */
  async run(): Promise<{ sessions: number; links: number }> {
    const sessions = await this.removeExpired('sessions');
    const links = await this.removeExpired('auth_tokens');
    if (sessions + links > 0) this.logger.log(`Removed ${sessions} expired session(s) and ${links} expired email link(s).`);
    return { sessions, links };
  }

  private removeExpired(table: 'sessions' | 'auth_tokens'): Promise<number> {
    return removeInBatches(async (limit) => {
      const rows = returnedRows(
        await this.dataSource.query(
          `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE expires_at < now() - interval '1 day' LIMIT $1) RETURNING id`,
          [limit],
        ),
      );
      return rows.length;
    });
  }
}
