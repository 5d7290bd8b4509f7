import type { MigrationInterface, QueryRunner } from 'typeorm';

/** For the hourly removal of sessions and email links long expired (AuthHousekeeping). */
export class ExpiryIndexes1796000000000 implements MigrationInterface {
  name = 'ExpiryIndexes1796000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX sessions_expires_at ON sessions (expires_at)`);
    await q.query(`CREATE INDEX auth_tokens_expires_at ON auth_tokens (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX auth_tokens_expires_at`);
    await q.query(`DROP INDEX sessions_expires_at`);
  }
}
