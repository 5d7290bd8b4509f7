import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `parley_append_messages`: a batch of sends stored in one statement (see
 * TypeormMessageRepository.storeBatch). It is a function, rather than a statement the server
 * sends, so that PostgreSQL plans it once per connection instead of on every batch: planning this
 * statement cost about as much as running it. The embedded database (PGlite) has the function
 * but sends the statement as is (BATCH_APPEND_INLINE in the repository, which says why).
 *
 * The plan is generic (made without the batch's values) and has to stay right however large the
 * tables grow: a cached plan is remade only after an ANALYZE of its tables, if one ever runs.
 * Every access here is a key lookup driven by the batch's rows, so sequential scans, hash joins
 * and merge joins are switched off while the function plans: otherwise a plan made while
 * `messages` or `chat_members` was small (a new install) would go on reading them whole.
 *
 * What the statement does, step by step:
 * - eligible: the sends whose sender is a member and whose clientId is not stored yet (the others
 *   come back missing, and the caller stores them one by one to answer each precisely);
 * - locked, bumped: each chat's row is locked in id order (two batches never deadlock) and its
 *   last_seq moved on by the chat's count of sends;
 * - numbered, inserted: each chat's sends take the seqs after the old last_seq, in input order;
 * - member_locks, pointers: senders' read pointers move to their newest message (member rows
 *   locked in (chat_id, user_id) order, as seen-notice claims lock them);
 * - each stored row comes back with the chat's member ids (comma-separated text, cheaper for
 *   node-postgres than a uuid[]) and the sender's read pointer from before the batch.
 */
export class AppendMessagesFunction1795400000000 implements MigrationInterface {
  name = 'AppendMessagesFunction1795400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION parley_append_messages(
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
        RETURN QUERY
        WITH input AS (
          SELECT * FROM unnest(p_ids, p_chat_ids, p_sender_ids, p_client_ids, p_texts, p_ords) AS t(id, chat_id, sender_id, client_id, text, ord)
        ), eligible AS (
          SELECT i.* FROM input i
           WHERE EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = i.chat_id AND m.user_id = i.sender_id)
             AND (i.client_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages x WHERE x.sender_id = i.sender_id AND x.client_id = i.client_id))
        ), counts AS (
          SELECT e.chat_id, count(*) AS n FROM eligible e GROUP BY e.chat_id
        ), locked AS (
          SELECT c.id FROM chats c WHERE c.id IN (SELECT k.chat_id FROM counts k) ORDER BY c.id FOR UPDATE
        ), bumped AS (
          UPDATE chats c SET last_seq = c.last_seq + k.n, last_activity_at = now()
            FROM counts k
           WHERE c.id = k.chat_id AND (SELECT count(*) FROM locked) >= 0
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
  }
}
