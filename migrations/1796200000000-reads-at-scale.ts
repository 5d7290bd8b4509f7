import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for reads that grew with the data (found by filling a database to 100k users and a chat
 * of 1M messages):
 * - `messages_chat_deleted`: the chat list's unread count is the seqs after the read pointer less
 *   the reader's own and the deleted ones (seq has no gaps); this finds the deleted ones without
 *   reading the rest.
 * - `users_name_order`: user search lists by lower(name), id. `users_name_prefix`
 *   (text_pattern_ops) serves the prefix match but not that order, so every page sorted every
 *   match: all users, for an empty query.
 *
 * Building an index holds off writes to its table until it is built: on a large deployment,
 * build them beforehand with CREATE INDEX CONCURRENTLY (the same statements, which the README's
 * upgrade notes give), and this migration finds them there.
 */
export class ReadsAtScale1796200000000 implements MigrationInterface {
  name = 'ReadsAtScale1796200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS messages_chat_deleted ON messages (chat_id, seq) WHERE deleted_at IS NOT NULL`);
    await q.query(`CREATE INDEX IF NOT EXISTS users_name_order ON users (lower(name), id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX users_name_order`);
    await q.query(`DROP INDEX messages_chat_deleted`);
  }
}
