import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The notify module's record of every email: its state, its retries, and its content while unsent. */
export class CreateMailLog1795290040869 implements MigrationInterface {
  name = 'CreateMailLog1795290040869';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE mail_log (
        id              uuid PRIMARY KEY,
        template        text NOT NULL,
        user_id         uuid,
        recipient       text NOT NULL,
        recipient_name  text NOT NULL,
        sender          text NOT NULL,
        subject         text NOT NULL,
        text_body       text,
        html_body       text,
        action_url      text,
        status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        sent_at         timestamptz,
        next_attempt_at timestamptz,
        expires_at      timestamptz,
        CONSTRAINT mail_log_pending_has_content
          CHECK (status <> 'pending' OR (text_body IS NOT NULL AND html_body IS NOT NULL AND next_attempt_at IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE INDEX mail_log_due_idx ON mail_log (next_attempt_at) WHERE status = 'pending'`);
    await queryRunner.query(`CREATE INDEX mail_log_recipient_idx ON mail_log (recipient, created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE mail_log`);
  }
}
