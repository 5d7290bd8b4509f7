import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where each member came in: the chat's last seq when they were added (0 for those there from
 * the start). A member added later starts with the history marked read, so that it is not
 * unread; the list of a message's readers leaves out those who joined after it, who were never
 * sent it. Members from before this migration count as there from the start.
 */
export class MembersJoinedSeq1795800000000 implements MigrationInterface {
  name = 'MembersJoinedSeq1795800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chat_members ADD COLUMN joined_seq bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chat_members DROP COLUMN joined_seq`);
  }
}
