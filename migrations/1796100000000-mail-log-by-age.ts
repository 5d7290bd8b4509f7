import type { MigrationInterface, QueryRunner } from 'typeorm';

/** For the hourly removal of sent and failed messages a month old (MailHousekeeping). */
export class MailLogByAge1796100000000 implements MigrationInterface {
  name = 'MailLogByAge1796100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX mail_log_finished_created ON mail_log (created_at) WHERE status <> 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX mail_log_finished_created`);
  }
}
