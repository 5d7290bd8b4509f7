import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ConflictError } from '../../../../../common/errors/domain-error.js';
import { EMBEDDED_APPLICATION_NAME } from '../../../../../database/data-source-options.js';
import { isUniqueViolation, returnedRows, runHot } from '../../../../../database/sql.js';
import { isOutageBeforeAnswer, isStatementTimeout, isStoreUnreachable } from '../../../../../common/errors/store-errors.js';
import type { Message } from '../../../domain/message.js';
import { AppendBatcher } from './append-batcher.js';
import {
  type AppendInput,
  type AppendResult,
  type HistoryQuery,
  MessageRepository,
  type ReadPointerMove,
  type SeenNotice,
} from '../../../message.repository.js';
import { errorMessage } from '../../../../../common/errors/error-message.js';
import type { ActorCheck } from '../../../../chats/chat.repository.js';
import { type MemberRow, toMember } from '../../../../chats/infrastructure/persistence/typeorm/member-rows.js';

interface MessageRow {
  id: string;
  chat_id: string;
  seq: string;
  sender_id: string;
  client_id: string | null;
  text: string | null;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
}

/** What the append statements return per message: the row, the chat's members (comma-separated) and the sender's read pointer before it. */
type AppendedRow = MessageRow & { member_ids: string; previous_read_seq: string };

const MAX_BATCH = 256;
/**
 * A second batch goes to the database once this many sends it could take wait (their chats have
 * no batch in flight), or the one in flight is stuck (below): fewer, fuller batches cost
 * PostgreSQL less CPU, and a higher mark lets the queue grow under heavy load (docs/bench.md).
 */
const EXTRA_BATCH_AT = 16;
/**
 * A batch in flight this long is taken as stuck (waiting for a chat's lock, which a long change
 * to the chat could hold), and the sends it does not concern go in a second one. Far above a batch's time
 * under load (a few ms at 25% of the bench's saturation, ~170 ms at p99 at saturation).
 */
const STUCK_BATCH_MS = 250;

// On PostgreSQL every send, lone or batched, goes through a function
// (migrations/1795500000000-append-messages-after-chat-locks.ts): planned once per connection
// rather than once per batch, and it locks the chats before it reads their members, so a send
// that queued behind a membership change sees that change.
const BATCH_APPEND = 'SELECT * FROM parley_append_messages($1, $2, $3, $4, $5, $6)';

// The function's main statement sent as is, for the embedded database (PGlite), where calling the
// function makes sends slower (docs/bench.md). Keep the two in step: this is the function's
// second statement with the parameters named, plus its first (the chat locks) as the `locked`
// step. That is enough here: the embedded database has one connection, so no membership change
// can commit between this statement's snapshot and its locks.
const BATCH_APPEND_INLINE = `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[]) AS t(id, chat_id, sender_id, client_id, text, ord)
  ), eligible AS (
    SELECT i.* FROM input i
     WHERE EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = i.chat_id AND m.user_id = i.sender_id)
       AND (i.client_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages x WHERE x.sender_id = i.sender_id AND x.client_id = i.client_id))
  ), counts AS (
    SELECT chat_id, count(*) AS n FROM eligible GROUP BY chat_id
  ), locked AS (
    SELECT c.id FROM chats c WHERE c.id IN (SELECT chat_id FROM counts) ORDER BY c.id FOR UPDATE
  ), bumped AS (
    UPDATE chats c SET last_seq = c.last_seq + counts.n, last_activity_at = now()
      FROM counts
     WHERE c.id = counts.chat_id AND (SELECT count(*) FROM locked) >= 0
     RETURNING c.id AS chat_id, c.last_seq - counts.n AS base
  ), numbered AS (
    SELECT e.id, e.chat_id, e.sender_id, e.client_id, e.text, b.base + row_number() OVER (PARTITION BY e.chat_id ORDER BY e.ord) AS seq
      FROM eligible e JOIN bumped b ON b.chat_id = e.chat_id
  ), inserted AS (
    INSERT INTO messages (id, chat_id, seq, sender_id, client_id, text)
    SELECT id, chat_id, seq, sender_id, client_id, text FROM numbered
    RETURNING *
  ), member_locks AS (
    SELECT m.user_id FROM chat_members m
     WHERE (m.chat_id, m.user_id) IN (SELECT chat_id, sender_id FROM numbered)
     ORDER BY m.chat_id, m.user_id FOR UPDATE
  ), pointers AS (
    UPDATE chat_members m SET last_read_seq = greatest(m.last_read_seq, s.top), last_read_at = now()
      FROM (SELECT chat_id, sender_id, max(seq) AS top FROM numbered GROUP BY chat_id, sender_id) s
     WHERE m.chat_id = s.chat_id AND m.user_id = s.sender_id AND (SELECT count(*) FROM member_locks) >= 0
  )
  SELECT inserted.*,
         (SELECT string_agg(user_id::text, ',') FROM chat_members WHERE chat_id = inserted.chat_id) AS member_ids,
         (SELECT last_read_seq FROM chat_members WHERE chat_id = inserted.chat_id AND user_id = inserted.sender_id) AS previous_read_seq
    FROM inserted`;

// A lone send on the embedded database. One statement, so one round trip and atomic on its own.
// Taking the next seq locks the chat row until commit, so concurrent senders queue there and seqs
// come out 1, 2, 3, …; if the insert fails (a repeated clientId) the whole statement, increment
// included, is undone. Not for PostgreSQL: the statement's snapshot predates the chat lock it waits
// for, so it would miss a membership change committed meanwhile.
const APPEND_ONE = `
  WITH bumped AS (
    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now()
     WHERE id = $2 AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $2 AND user_id = $3)
     RETURNING last_seq
  ), inserted AS (
    INSERT INTO messages (id, chat_id, seq, sender_id, client_id, text)
    SELECT $1, $2, last_seq, $3, $4, $5 FROM bumped
    RETURNING *
  ), pointer AS (
    UPDATE chat_members SET last_read_seq = greatest(last_read_seq, (SELECT seq FROM inserted)), last_read_at = now()
     WHERE chat_id = $2 AND user_id = $3 AND EXISTS (SELECT 1 FROM inserted)
  )
  SELECT inserted.*,
         (SELECT string_agg(user_id::text, ',') FROM chat_members WHERE chat_id = $2) AS member_ids,
         (SELECT last_read_seq FROM chat_members WHERE chat_id = $2 AND user_id = $3) AS previous_read_seq
    FROM inserted`;

/**
 * A read of at most this many messages finds their senders among the messages themselves; a
 * longer one asks each member instead (an index probe each).
 */
const SHORT_READ_RANGE = 2000;

/** Messages in PostgreSQL (real or embedded), through TypeORM's connection. */
@Injectable()
export class TypeormMessageRepository extends MessageRepository {
  private readonly batcher: AppendBatcher<AppendInput, AppendResult>;
  /** On the embedded database (PGlite) the statements go as they are, not through the function. */
  private readonly embedded: boolean;
  private readonly logger = new Logger('MessageStore');

  constructor(private readonly db: DataSource) {
    super();
    // Up to two batches in flight, the second only while EXTRA_BATCH_AT sends wait (see
    // AppendBatcher); with a pool of one (embedded), one.
    const poolSize = (db.options as { extra?: { max?: number } }).extra?.max ?? 10;
    this.embedded = (db.options as { applicationName?: string }).applicationName === EMBEDDED_APPLICATION_NAME;
    this.batcher = new AppendBatcher(
      { maxInFlight: Math.min(2, poolSize), maxBatch: MAX_BATCH, extraBatchAt: EXTRA_BATCH_AT, stuckAfterMs: STUCK_BATCH_MS },
      (inputs) => this.storeBatch(inputs),
      async (first, input) => this.repeat(first.message, input),
    );
  }

  append(input: AppendInput): Promise<AppendResult> {
    return this.batcher.submit(input);
  }

  /**
   * Many sends in one statement: each chat's seq block is taken under its row lock (chat rows
   * locked in id order, so two batches never deadlock), messages inserted in input order, senders'
   * read pointers moved (their member rows locked in (chat_id, user_id) order, as seen-notice
   * claims lock them). Sends the statement left out (not a member, a clientId already stored)
   * and every send of a batch that failed as a whole go through appendOne, which answers each
   * precisely; one after another, so that those stored keep their order too (until one meets an
   * outage, below).
   */
  private async storeBatch(inputs: AppendInput[]): Promise<Array<PromiseSettledResult<AppendResult>>> {
    if (inputs.length === 1) return Promise.allSettled([this.appendOne(inputs[0])]);
    let rows: AppendedRow[];
    try {
      rows = await runHot<AppendedRow>(this.db, this.embedded ? BATCH_APPEND_INLINE : BATCH_APPEND, [
        inputs.map((i) => i.id),
        inputs.map((i) => i.chatId),
        inputs.map((i) => i.senderId),
        inputs.map((i) => i.clientId),
        inputs.map((i) => i.text),
        inputs.map((_, i) => i),
      ]);
    } catch (error) {
      // No connection to be had, or none answering in time: each send alone would wait as long
      // again. They are refused at once (503; a repeat with the same clientId is safe, should the
      // statement have committed after all).
      if (isOutageBeforeAnswer(error)) return inputs.map(() => ({ status: 'rejected', reason: error }));
      // Expected now and then (a clientId stored by another instance a moment ago); each send
      // is then stored on its own. Often would mean the batch statement itself is broken.
      this.logger.warn(`A batch of ${inputs.length} sends failed as a whole (${errorMessage(error)}); storing them one by one.`);
      rows = [];
    }
    const stored = new Map(rows.map((r) => [r.id, r]));
    // The statement reports each sender's pointer from before the batch; for a sender's second
    // and later message of the batch, the pointer before it was on their previous one.
    const lastOwn = new Map<string, number>();
    for (const row of [...rows].sort((x, y) => Number(x.seq) - Number(y.seq))) {
      const key = `${row.chat_id}:${row.sender_id}`;
      const previous = lastOwn.get(key);
      if (previous !== undefined) row.previous_read_seq = String(Math.max(Number(row.previous_read_seq), previous));
      lastOwn.set(key, Number(row.seq));
    }
    const results: Array<PromiseSettledResult<AppendResult>> = [];
    // Once a send on its own meets the database away, so would the rest, each after as long again
    // (DATABASE_QUERY_TIMEOUT, or the connect timeout): they are answered with that at once; and once
    // one waited past the deadline (its chat's row locked elsewhere), so do the rest of that chat's.
    // A batch cut by a one-off failure (its session ended) still goes through one by one.
    let outage: unknown;
    const timedOut = new Map<string, unknown>();
    for (const input of inputs) {
      const row = stored.get(input.id);
      const refused = row ? undefined : (outage ?? timedOut.get(input.chatId));
      if (refused !== undefined) {
        results.push({ status: 'rejected', reason: refused });
      } else if (row) {
        results.push({ status: 'fulfilled', value: toAppendResult(row) });
      } else {
        const [result] = await Promise.allSettled([this.appendOne(input)]);
        if (result.status === 'rejected' && isStatementTimeout(result.reason)) timedOut.set(input.chatId, result.reason);
        else if (result.status === 'rejected' && isStoreUnreachable(result.reason)) outage = result.reason;
        results.push(result);
      }
    }
    return results;
  }

  /**
   * One send, answered precisely: stored, a repeat of a stored clientId, or refused. On the
   * embedded database through the one-row statement (the function's fixed cost there is ~3.7 ms
   * against ~1.4 ms); on PostgreSQL through the function, as a batch of one.
   */
  private async appendOne(input: AppendInput): Promise<AppendResult> {
    let rows: AppendedRow[];
    try {
      rows = this.embedded
        ? await runHot<AppendedRow>(this.db, APPEND_ONE, [input.id, input.chatId, input.senderId, input.clientId, input.text])
        : await runHot<AppendedRow>(this.db, BATCH_APPEND, [
            [input.id],
            [input.chatId],
            [input.senderId],
            [input.clientId],
            [input.text],
            [0],
          ]);
    } catch (error) {
      if (input.clientId && isUniqueViolation(error, 'messages_sender_client')) {
        // A repeat (or a lost race with the same send): the stored message is the answer.
        const original = await this.findByClientId(input.senderId, input.clientId);
        if (original) return this.repeat(original, input);
      }
      if (isUniqueViolation(error, 'messages_pkey')) {
        // This very send (its id is made once, per send) is stored: by its batch, whose answer was
        // lost when the connection ended after the commit (a PostgreSQL restart, a failover). So
        // it is answered as stored, and fanned out, which that batch never got to do.
        const stored = await this.findById(input.chatId, input.id);
        if (stored && stored.senderId === input.senderId) {
          return { message: stored, created: true, memberIds: await this.memberIds(input.chatId) };
        }
      }
      throw error;
    }
    if (rows.length === 0) return this.notStored(input);
    return toAppendResult(rows[0]);
  }

  async findById(chatId: string, id: string): Promise<Message | undefined> {
    const [row] = await this.db.query(`SELECT * FROM messages WHERE chat_id = $1 AND id = $2`, [chatId, id]);
    return row ? toMessage(row) : undefined;
  }

  async editText(chatId: string, id: string, text: string, check: ActorCheck): Promise<Message> {
    const row = await this.db.transaction(async (tx) => {
      await holdMembership(tx, chatId, check);
      const [edited] = returnedRows<MessageRow>(
        await tx.query(
          `UPDATE messages SET text = $3, edited_at = greatest(clock_timestamp(), edited_at + interval '1 millisecond')
            WHERE chat_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING *`,
          [chatId, id, text],
        ),
      );
      return edited;
    });
    if (!row) throw new ConflictError('MESSAGE_DELETED', 'This message was deleted.');
    return toMessage(row);
  }

  async tombstone(chatId: string, id: string, check: ActorCheck): Promise<Message | undefined> {
    const row = await this.db.transaction(async (tx) => {
      await holdMembership(tx, chatId, check);
      const [deleted] = returnedRows<MessageRow>(
        await tx.query(
          `UPDATE messages SET text = NULL, deleted_at = now() WHERE chat_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING *`,
          [chatId, id],
        ),
      );
      return deleted;
    });
    return row ? toMessage(row) : undefined;
  }

  async history(chatId: string, query: HistoryQuery): Promise<Message[]> {
    const rows: MessageRow[] =
      query.after !== undefined
        ? await this.db.query(`SELECT * FROM messages WHERE chat_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`, [
            chatId,
            query.after,
            query.limit,
          ])
        : await this.db.query(`SELECT * FROM messages WHERE chat_id = $1 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3`, [
            chatId,
            query.before ?? null,
            query.limit,
          ]);
    return rows.map(toMessage);
  }

  async page(chatId: string, limit: number, offset: number): Promise<{ items: Message[]; total: number }> {
    // seq has no gaps, so the newest seq is the count, and the message `offset` places below the
    // newest has seq total - offset: an index range, where OFFSET would read and drop every row
    // above it. total is read first: the rows up to it are committed with it.
    const [chat] = await this.db.query(`SELECT last_seq FROM chats WHERE id = $1`, [chatId]);
    const total = Number(chat?.last_seq ?? 0);
    if (offset >= total) return { items: [], total };
    const rows: MessageRow[] = await this.db.query(`SELECT * FROM messages WHERE chat_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3`, [
      chatId,
      total - offset,
      limit,
    ]);
    return { items: rows.map(toMessage), total };
  }

  async moveReadPointer(chatId: string, userId: string, seq: number): Promise<ReadPointerMove | undefined> {
    return this.db.transaction(async (tx) => {
      const [old] = await tx.query(`SELECT last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2 FOR UPDATE`, [
        chatId,
        userId,
      ]);
      if (!old || Number(old.last_read_seq) >= seq) return undefined;
      await tx.query(`UPDATE chat_members SET last_read_seq = $3, last_read_at = now() WHERE chat_id = $1 AND user_id = $2`, [
        chatId,
        userId,
        seq,
      ]);
      const members: Array<{ user_id: string }> = await tx.query(`SELECT user_id FROM chat_members WHERE chat_id = $1`, [chatId]);
      return { from: Number(old.last_read_seq), to: seq, memberIds: members.map((m) => m.user_id) };
    });
  }

  async readers(message: Message): Promise<Array<{ userId: string; readAt: Date }>> {
    const rows: Array<{ user_id: string; last_read_at: Date }> = await this.db.query(
      `SELECT user_id, coalesce(last_read_at, joined_at) AS last_read_at FROM chat_members
        WHERE chat_id = $1 AND user_id <> $2 AND last_read_seq >= $3 AND joined_seq < $3 ORDER BY 2, user_id`,
      [message.chatId, message.senderId, message.seq],
    );
    return rows.map((r) => ({ userId: r.user_id, readAt: r.last_read_at }));
  }

  async claimSeenNotices(chatId: string, readerId: string, from: number, to: number): Promise<SeenNotice[]> {
    // For each sender of the messages just read: how far every other member has read, the newest of
    // the sender's messages within that, and (atomically, once) the claim to tell them about it.
    // Member rows are locked in user_id order first, as every statement that locks several of a
    // chat's member rows does; in whatever order the update met them, two claims (or a claim and
    // a batch moving senders' read pointers) could deadlock.
    // What it reads stays small however far the pointer moved and however large the group:
    // - the senders: the range's messages when it is short, else each member (other than the
    //   reader) asked by index whether they sent one in it (a sender no longer a member has no
    //   row to claim on);
    // - "every other member has read up to": the lowest read pointer not their own, so the two
    //   lowest pointers of the chat, read once, answer it for every sender;
    // - and someone has: a member who came in after a message stands past it without having been
    //   sent it, as readers() says, so a notice needs another member who was there before it.
    const rows = returnedRows<{ user_id: string; top: string }>(
      await this.db.query(
        `WITH senders AS (
           SELECT DISTINCT sender_id FROM messages
            WHERE chat_id = $1 AND seq > $3 AND seq <= $4 AND sender_id <> $2 AND $4 - $3 <= ${SHORT_READ_RANGE}
           UNION
           SELECT m.user_id FROM chat_members m
            WHERE m.chat_id = $1 AND m.user_id <> $2 AND $4 - $3 > ${SHORT_READ_RANGE}
              AND EXISTS (SELECT 1 FROM messages x WHERE x.chat_id = $1 AND x.sender_id = m.user_id AND x.seq > $3 AND x.seq <= $4)
         ), lowest AS MATERIALIZED (
           SELECT l.user_id, l.last_read_seq FROM chat_members l WHERE l.chat_id = $1 ORDER BY l.last_read_seq, l.user_id LIMIT 2
         ), reach AS MATERIALIZED (
           SELECT s.sender_id, (SELECT min(o.last_read_seq) FROM lowest o WHERE o.user_id <> s.sender_id) AS upto
             FROM senders s
         ), tops AS (
           SELECT r.sender_id, (SELECT max(m.seq) FROM messages m WHERE m.chat_id = $1 AND m.sender_id = r.sender_id AND m.seq <= r.upto) AS top
             FROM reach r WHERE r.upto IS NOT NULL
         ), locked AS (
           SELECT cm.user_id FROM chat_members cm
            WHERE cm.chat_id = $1 AND cm.user_id IN (SELECT sender_id FROM tops WHERE top IS NOT NULL)
            ORDER BY cm.user_id FOR UPDATE
         )
         UPDATE chat_members cm SET seen_notified_seq = tops.top
           FROM tops
          WHERE cm.chat_id = $1 AND cm.user_id = tops.sender_id AND tops.top IS NOT NULL AND cm.seen_notified_seq < tops.top
            AND EXISTS (SELECT 1 FROM chat_members w WHERE w.chat_id = $1 AND w.user_id <> tops.sender_id AND w.joined_seq < tops.top)
            AND (SELECT count(*) FROM locked) >= 0
         RETURNING cm.user_id, tops.top`,
        [chatId, readerId, from, to],
      ),
    );
    return rows.map((r) => ({ senderId: r.user_id, seq: Number(r.top) }));
  }

  async memberIds(chatId: string): Promise<string[]> {
    const rows: Array<{ user_id: string }> = await this.db.query(`SELECT user_id FROM chat_members WHERE chat_id = $1`, [chatId]);
    return rows.map((r) => r.user_id);
  }

  protected async findByClientId(senderId: string, clientId: string): Promise<Message | undefined> {
    const [row] = await this.db.query(`SELECT * FROM messages WHERE sender_id = $1 AND client_id = $2`, [senderId, clientId]);
    return row ? toMessage(row) : undefined;
  }
}

function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    chatId: r.chat_id,
    seq: Number(r.seq),
    senderId: r.sender_id,
    clientId: r.client_id,
    text: r.text,
    createdAt: r.created_at,
    editedAt: r.edited_at,
    deletedAt: r.deleted_at,
  };
}

/** A send the append statement stored. */
function toAppendResult(row: AppendedRow): AppendResult {
  return {
    message: toMessage(row),
    created: true,
    memberIds: row.member_ids.split(','),
    previousReadSeq: Number(row.previous_read_seq),
  };
}

/**
 * Runs a message change's permission check on the actor's member row, share-locked until the change
 * commits: a removal, a role change or the chat's deletion writes that row, so one in progress is
 * waited for and its outcome checked, and one that comes later waits for this change. Only that row:
 * sends to the chat (which lock the chat's row) do not wait for an edit, nor edits for them; only
 * the actor's own send does (it moves their read pointer), for as long as the edit takes.
 */
async function holdMembership(tx: EntityManager, chatId: string, check: ActorCheck): Promise<void> {
  const [row] = (await tx.query(`SELECT * FROM chat_members WHERE chat_id = $1 AND user_id = $2 FOR SHARE`, [
    chatId,
    check.actorId,
  ])) as MemberRow[];
  check.allow(row ? toMember(row) : undefined);
}
