import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retries brought forward when the mail server is seen answering again (MailDeliveryWorker),
 * instead of waiting out a backoff that grows to hours:
 * - `waits_for_server`: the message's last attempt found the server unreachable. Claiming a row
 *   clears it.
 * - `hastened_from`: when its retry was brought forward, the time it had been due. An attempt
 *   brought forward that finds the server unreachable again is put back there,
 * - and counted in `free_attempts`: it does not count towards giving up, nor lengthen the backoff.
 */
export class MailWaitsForServer1796400000000 implements MigrationInterface {
  name = 'MailWaitsForServer1796400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE mail_log
        ADD COLUMN waits_for_server boolean NOT NULL DEFAULT false,
        ADD COLUMN hastened_from timestamptz,
        ADD COLUMN free_attempts integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE mail_log DROP COLUMN free_attempts, DROP COLUMN hastened_from, DROP COLUMN waits_for_server`);
  }
}
