import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `chats.members_version` becomes `chats.version` (Chat.version): renames and role changes count
 * in it too, since chat_updated frames carry it as member frames do. Two renames through two
 * instances could leave other members on the older title, the first rename's frame crossing
 * Redis last; a connection now drops a frame older than what it was told. The count so far
 * carries on: versions only have to grow.
 */
export class ChatVersion1796600000000 implements MigrationInterface {
  name = 'ChatVersion1796600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chats RENAME COLUMN members_version TO version`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chats RENAME COLUMN version TO members_version`);
  }
}
