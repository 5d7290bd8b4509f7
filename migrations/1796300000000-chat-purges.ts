import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A deleted chat's messages are removed after the delete commits, in short transactions, instead
 * of by the delete's cascade.
 *
 * Why: the cascade removed every message in the deleting transaction, which held the chat's lock
 * throughout (1.5–3.75 s for a chat of 1M messages). Every send, read move and edit in that chat
 * waited for it, each holding a pool connection, so enough of them stalled every request.
 *
 * - `chat_purges`: a deleted chat whose messages are still to be removed, written in the deleting
 *   transaction. `last_seq` is the chat's last seq then (no message can be added after: sends need
 *   a member, and the members went with the chat); `purged_to` is how far the removal got, so a
 *   removal cut short by a stop goes on from there at the next start.
 * - `messages.chat_id` loses its foreign key, so the delete leaves the messages in place. Nothing
 *   reaches them meanwhile: every read of messages goes through a membership first.
 */
export class ChatPurges1796300000000 implements MigrationInterface {
  name = 'ChatPurges1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE chat_purges (
        chat_id uuid PRIMARY KEY,
        last_seq bigint NOT NULL,
        purged_to bigint NOT NULL DEFAULT 0,
        deleted_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM messages m WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)`);
    await q.query(
      `ALTER TABLE messages ADD CONSTRAINT messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE`,
    );
    await q.query(`DROP TABLE chat_purges`);
  }
}
