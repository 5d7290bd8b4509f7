import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Avatar files to delete from object storage, kept until storage has deleted them.
 *
 * Why: a replaced or removed avatar's file was deleted once, right after the database stopped
 * pointing at it; when storage failed then (down, or refusing the delete), the file stayed in the
 * bucket for good, though the user had been told it was gone. A file stored for an upload that then
 * failed (or whose process died before pointing the user at it) stayed too.
 *
 * - A row per file: written before an upload stores its file (due a day later: if the upload never
 *   points the user at it, it goes then) and removed in the transaction that points the user at it;
 *   written, due at once, in the transaction that stops pointing at a file.
 * - `attempts` and `last_error` say how deleting it has gone; `due_at` is when to try next.
 */
export class AvatarDiscards1796700000000 implements MigrationInterface {
  name = 'AvatarDiscards1796700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE avatar_discards (
        key text PRIMARY KEY,
        user_id uuid NOT NULL,
        due_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text
      )`);
    await q.query(`CREATE INDEX avatar_discards_due ON avatar_discards (due_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE avatar_discards`);
  }
}
