import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `mail_log.waits_for_server`: the message's last attempt found the mail server unreachable. Its
 * retry is brought forward when the server is seen answering again (MailDeliveryWorker), instead
 * of waiting out a backoff that grows to hours. Claiming a row clears it.
 */
export class MailWaitsForServer1796400000000 implements MigrationInterface {
  name = 'MailWaitsForServer1796400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE mail_log ADD COLUMN waits_for_server boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE mail_log DROP COLUMN waits_for_server`);
  }
}
