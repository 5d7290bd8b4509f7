import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AppendMessagesFunction1795400000000 } from './1795400000000-append-messages-function.js';

/**
 * `parley_append_messages` takes its chats' row locks in a statement of its own, before the
 * statement that checks membership, stores the sends and lists the members.
 *
 * Why: every change to a chat's membership holds that chat's row lock until it commits
 * (lockChat in the chat repository). The earlier function took the locks inside its one
 * statement, whose snapshot was older than the lock: a send that queued behind a removal still
 * saw the removed member after the removal had committed. The sender's message was stored
 * although they were no longer a member, or a removed reader was still listed for delivery.
 * In a plpgsql function each statement takes a fresh snapshot, so the second statement sees
 * membership as it is once the locks are held, and it stays that way until this transaction
 * commits.
 *
 * The rest is the statement of 1795400000000 without its `locked` step: the chat rows are
 * already locked, in id order, so two batches still never deadlock on them.
 */
export class AppendMessagesAfterChatLocks1795500000000 implements MigrationInterface {
  name = 'AppendMessagesAfterChatLocks1795500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION parley_append_messages(
        p_ids uuid[], p_chat_ids uuid[], p_sender_ids uuid[], p_client_ids uuid[], p_texts text[], p_ords int[]
      ) RETURNS TABLE (
        id uuid, chat_id uuid, seq bigint, sender_id uuid, client_id uuid, text text,
        created_at timestamptz, edited_at timestamptz, deleted_at timestamptz,
        member_ids text, previous_read_seq bigint
      )
      LANGUAGE plpgsql
      SET enable_seqscan = off
      SET enable_hashjoin = off
      SET enable_mergejoin = off
      SET plan_cache_mode = force_generic_plan
      AS $fn$
      #variable_conflict use_column
      BEGIN
        PERFORM 1 FROM chats c WHERE c.id = ANY (p_chat_ids) ORDER BY c.id FOR UPDATE;

        RETURN QUERY
        WITH input AS (
          SELECT * FROM unnest(p_ids, p_chat_ids, p_sender_ids, p_client_ids, p_texts, p_ords) AS t(id, chat_id, sender_id, client_id, text, ord)
        ), eligible AS (
          SELECT i.* FROM input i
           WHERE EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = i.chat_id AND m.user_id = i.sender_id)
             AND (i.client_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages x WHERE x.sender_id = i.sender_id AND x.client_id = i.client_id))
        ), counts AS (
          SELECT e.chat_id, count(*) AS n FROM eligible e GROUP BY e.chat_id
        ), bumped AS (
          UPDATE chats c SET last_seq = c.last_seq + k.n, last_activity_at = now()
            FROM counts k
           WHERE c.id = k.chat_id
           RETURNING c.id AS chat_id, c.last_seq - k.n AS base
        ), numbered AS (
          SELECT e.id, e.chat_id, e.sender_id, e.client_id, e.text, b.base + row_number() OVER (PARTITION BY e.chat_id ORDER BY e.ord) AS seq
            FROM eligible e JOIN bumped b ON b.chat_id = e.chat_id
        ), inserted AS (
          INSERT INTO messages AS ms (id, chat_id, seq, sender_id, client_id, text)
          SELECT n.id, n.chat_id, n.seq, n.sender_id, n.client_id, n.text FROM numbered n
          RETURNING ms.id, ms.chat_id, ms.seq, ms.sender_id, ms.client_id, ms.text, ms.created_at, ms.edited_at, ms.deleted_at
        ), member_locks AS (
          SELECT m.user_id FROM chat_members m
           WHERE (m.chat_id, m.user_id) IN (SELECT n.chat_id, n.sender_id FROM numbered n)
           ORDER BY m.chat_id, m.user_id FOR UPDATE
        ), pointers AS (
          UPDATE chat_members m SET last_read_seq = greatest(m.last_read_seq, s.top), last_read_at = now()
            FROM (SELECT n.chat_id, n.sender_id, max(n.seq) AS top FROM numbered n GROUP BY n.chat_id, n.sender_id) s
           WHERE m.chat_id = s.chat_id AND m.user_id = s.sender_id AND (SELECT count(*) FROM member_locks) >= 0
        )
        SELECT r.id, r.chat_id, r.seq, r.sender_id, r.client_id, r.text, r.created_at, r.edited_at, r.deleted_at,
               (SELECT string_agg(a.user_id::text, ',') FROM chat_members a WHERE a.chat_id = r.chat_id),
               (SELECT p.last_read_seq FROM chat_members p WHERE p.chat_id = r.chat_id AND p.user_id = r.sender_id)
          FROM inserted r;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION parley_append_messages(uuid[], uuid[], uuid[], uuid[], text[], int[])');
    await new AppendMessagesFunction1795400000000().up(q);
  }
}
