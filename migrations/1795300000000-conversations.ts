import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Conversations1795300000000 implements MigrationInterface {
  name = 'Conversations1795300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE chats (
        id uuid PRIMARY KEY,
        type text NOT NULL CHECK (type IN ('direct', 'group')),
        title text,
        owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
        -- "<smaller user id>:<larger user id>" for direct chats: one chat per pair, by a unique key.
        direct_key text UNIQUE,
        -- The seq of the newest message; the next message takes last_seq + 1 under this row's lock.
        last_seq bigint NOT NULL DEFAULT 0,
        last_activity_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((type = 'direct') = (direct_key IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX chats_owner_title ON chats (owner_id, lower(title)) WHERE type = 'group'`);
    await q.query(`
      CREATE TABLE chat_members (
        chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
        joined_at timestamptz NOT NULL DEFAULT now(),
        last_read_seq bigint NOT NULL DEFAULT 0,
        last_read_at timestamptz,
        -- Highest seq of this member's own messages they were told everyone has read (message_seen).
        seen_notified_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (chat_id, user_id)
      )`);
    await q.query(`CREATE INDEX chat_members_user ON chat_members (user_id, chat_id)`);
    await q.query(`
      CREATE TABLE messages (
        id uuid PRIMARY KEY,
        chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        sender_id uuid NOT NULL,
        client_id uuid,
        text text,
        created_at timestamptz NOT NULL DEFAULT now(),
        edited_at timestamptz,
        deleted_at timestamptz,
        CONSTRAINT messages_chat_seq UNIQUE (chat_id, seq)
      )`);
    await q.query(`CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id) WHERE client_id IS NOT NULL`);
    await q.query(`CREATE INDEX messages_chat_sender_seq ON messages (chat_id, sender_id, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE messages');
    await q.query('DROP TABLE chat_members');
    await q.query('DROP TABLE chats');
  }
}
