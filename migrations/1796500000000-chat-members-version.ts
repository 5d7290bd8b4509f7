import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `chats.members_version`: how many times the chat's members have changed (added or removed),
 * bumped under the chat's lock. Frames about a member carry it, so that a connection told of a
 * later change to that member drops an earlier one that came after it through another instance
 * (removed and added back at once: member_removed arriving last would leave the client wrong).
 */
export class ChatMembersVersion1796500000000 implements MigrationInterface {
  name = 'ChatMembersVersion1796500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chats ADD COLUMN members_version bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chats DROP COLUMN members_version`);
  }
}
