import type { MigrationInterface, QueryRunner } from 'typeorm';
import { normaliseEmail } from '../src/common/validation/transforms.js';

/**
 * Emails are now kept in one form (normaliseEmail: NFC, lower case, the domain in ASCII), and
 * sign-in looks an address up in that form, so an account stored before with a non-ASCII
 * address (`x@bücher.de`, or a decomposed "ü") is rewritten to it, or it could not sign in.
 * Only non-ASCII addresses can change. An address whose new form another account already has
 * (the duplicate this rule now prevents) is left as it is, with a notice naming both accounts.
 */
export class EmailsInOneForm1795700000000 implements MigrationInterface {
  name = 'EmailsInOneForm1795700000000';

  async up(q: QueryRunner): Promise<void> {
    const rows = (await q.query(`SELECT id, email FROM users WHERE email ~ '[^\\x01-\\x7f]' ORDER BY created_at, id`)) as Array<{
      id: string;
      email: string;
    }>;
    for (const { id, email } of rows) {
      const normal = normaliseEmail(email);
      if (normal === email) continue;
      const taken = (await q.query(`SELECT id FROM users WHERE email = $1`, [normal])) as Array<{ id: string }>;
      if (taken.length > 0) {
        console.warn(
          `Migration ${this.name}: user ${id} keeps the email ${email}: its one form ${normal} belongs to user ${taken[0].id}. Merge or rename one of them by hand; until then ${id} cannot sign in by email.`,
        );
        continue;
      }
      await q.query(`UPDATE users SET email = $1 WHERE id = $2`, [normal, id]);
    }
  }

  async down(): Promise<void> {
    // The earlier forms are not kept; the one form works with the earlier code too.
  }
}
