import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The mail worker looks for a newer email of the same kind to the same user (a newer reset link supersedes an older one). */
export class MailLogByUser1795600000000 implements MigrationInterface {
  name = 'MailLogByUser1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX mail_log_user_template_idx ON mail_log (user_id, template, created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX mail_log_user_template_idx`);
  }
}
