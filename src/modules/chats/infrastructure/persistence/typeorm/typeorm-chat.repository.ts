import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { isUniqueViolation, returnedRows } from '../../../../../database/sql.js';
import {
  chatFull,
  chatNotFound,
  memberNotFound,
  newOwnerTitleTaken,
  noSuccessorCanOwn,
  ownerTitleTaken,
  titleTaken,
} from '../../../chat-access.js';
import {
  type ActorCheck,
  ChatRepository,
  type ChatListCursor,
  type MembersAdded,
  type RemovalOutcome,
  type RemovalPlan,
} from '../../../chat.repository.js';
import { type Chat, type ChatSummary, directKey, type Member, type MemberRole } from '../../../domain/chat.js';
import { ChatHistoryPurge } from './chat-history-purge.js';
import { checkActor, type MemberRow, toMember } from './member-rows.js';

interface ChatRow {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  owner_id: string | null;
  last_seq: string;
  version: string;
  last_activity_at: Date;
  created_at: Date;
  updated_at: Date;
}

/** Chats in PostgreSQL (real or embedded), through TypeORM's connection. */
@Injectable()
export class TypeormChatRepository extends ChatRepository {
  private readonly purges: ChatHistoryPurge;

  constructor(private readonly db: DataSource) {
    super();
    this.purges = new ChatHistoryPurge(db);
  }

  /** Nest calls this once the app is up: purges an earlier process (or another instance) left are finished. */
  onApplicationBootstrap(): void {
    this.purges.startSweeping();
  }

  /** Nest calls this on shutdown, before the database closes: a purge's batch in flight commits, the rest is the next start's. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.purges.stop();
  }

  async findOrCreateDirect(id: string, userA: string, userB: string): Promise<{ chat: Chat; created: boolean }> {
    const key = directKey(userA, userB);
    return this.db.transaction(async (tx) => {
      // ON CONFLICT makes the unique key decide: two simultaneous creators get one chat.
      const inserted = await tx.query(
        `INSERT INTO chats (id, type, direct_key) VALUES ($1, 'direct', $2) ON CONFLICT (direct_key) DO NOTHING RETURNING *`,
        [id, key],
      );
      if (inserted.length === 1) {
        await tx.query(`INSERT INTO chat_members (chat_id, user_id, role) VALUES ($1, $2, 'member'), ($1, $3, 'member')`, [
          id,
          userA,
          userB,
        ]);
        return { chat: toChat(inserted[0]), created: true };
      }
      const [existing] = await tx.query(`SELECT * FROM chats WHERE direct_key = $1`, [key]);
      return { chat: toChat(existing), created: false };
    });
  }

  async createGroup(chat: { id: string; title: string; ownerId: string }, memberIds: string[]): Promise<Chat> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx.query(`INSERT INTO chats (id, type, title, owner_id) VALUES ($1, 'group', $2, $3) RETURNING *`, [
          chat.id,
          chat.title,
          chat.ownerId,
        ]);
        await ChatHistoryPurge.finishBeforeReuse(tx, chat.id);
        await tx.query(`INSERT INTO chat_members (chat_id, user_id, role) VALUES ($1, $2, 'owner')`, [chat.id, chat.ownerId]);
        const others = memberIds.filter((m) => m !== chat.ownerId);
        if (others.length > 0) {
          await tx.query(
            `INSERT INTO chat_members (chat_id, user_id, role) SELECT $1, unnest($2::uuid[]), 'member' ON CONFLICT DO NOTHING`,
            [chat.id, others],
          );
        }
        return toChat(row);
      });
    } catch (error) {
      if (isUniqueViolation(error, 'chats_owner_title')) throw titleTaken();
      throw error;
    }
  }

  async findById(id: string): Promise<Chat | undefined> {
    const [row] = await this.db.query(`SELECT * FROM chats WHERE id = $1`, [id]);
    return row ? toChat(row) : undefined;
  }

  async membership(chatId: string, userId: string): Promise<Member | undefined> {
    const [row] = await this.db.query(`SELECT * FROM chat_members WHERE chat_id = $1 AND user_id = $2`, [chatId, userId]);
    return row ? toMember(row) : undefined;
  }

  async lastSeqsOfMember(userId: string, chatIds: string[]): Promise<Map<string, number>> {
    if (chatIds.length === 0) return new Map();
    const rows: Array<{ id: string; last_seq: string }> = await this.db.query(
      `SELECT c.id, c.last_seq FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = ANY ($2::uuid[]) AND m.user_id = $1`,
      [userId, chatIds],
    );
    return new Map(rows.map((r) => [r.id, Number(r.last_seq)]));
  }

  async members(chatId: string, tx: EntityManager = this.db.manager): Promise<Member[]> {
    const rows: MemberRow[] = await tx.query(
      `SELECT * FROM chat_members WHERE chat_id = $1 ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, joined_at, user_id`,
      [chatId],
    );
    return rows.map(toMember);
  }

  async summary(chatId: string, userId: string): Promise<ChatSummary | undefined> {
    const [found] = await this.summaries(userId, 1, undefined, chatId);
    return found;
  }

  listForUser(userId: string, limit: number, after?: ChatListCursor): Promise<ChatSummary[]> {
    return this.summaries(userId, limit, after);
  }

  private async summaries(userId: string, limit: number, after?: ChatListCursor, chatId?: string): Promise<ChatSummary[]> {
    // One query: the caller's page of chats, then for those only the newest message, the unread
    // count and the member count, each a lookup on an index.
    // - The page reaches each chat from the caller's membership by its key (LATERAL ... LIMIT 1
    //   keeps the planner from joining all chats to all memberships by hash, reading the whole
    //   chats table on every page).
    // - Unread: seq has no gaps, so the messages after the read pointer number last_seq -
    //   last_read_seq; less the reader's own among them and the deleted ones of others, both
    //   found by index (counting the unread themselves took as long as the backlog was long).
    const rows = await this.db.query(
      `WITH page AS (
         SELECT c.*, me.last_read_seq AS my_last_read_seq
           FROM chat_members me
           CROSS JOIN LATERAL (SELECT * FROM chats c0 WHERE c0.id = me.chat_id LIMIT 1) c
          WHERE me.user_id = $1
            AND ($3::timestamptz IS NULL OR (date_trunc('milliseconds', c.last_activity_at), c.id) < ($3::timestamptz, $4::uuid))
            AND ($5::uuid IS NULL OR me.chat_id = $5::uuid)
          ORDER BY date_trunc('milliseconds', c.last_activity_at) DESC, c.id DESC
          LIMIT $2
       )
       SELECT c.*,
              (SELECT count(*) FROM chat_members x WHERE x.chat_id = c.id)::int AS member_count,
              greatest(0, c.last_seq - c.my_last_read_seq
                 - (SELECT count(*) FROM messages o WHERE o.chat_id = c.id AND o.sender_id = $1 AND o.seq > c.my_last_read_seq)
                 - (SELECT count(*) FROM messages d
                     WHERE d.chat_id = c.id AND d.seq > c.my_last_read_seq AND d.deleted_at IS NOT NULL AND d.sender_id <> $1))::int AS unread_count,
              (SELECT x.user_id FROM chat_members x WHERE c.type = 'direct' AND x.chat_id = c.id AND x.user_id <> $1 LIMIT 1) AS peer_id,
              lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.client_id AS lm_client_id, lm.text AS lm_text,
              lm.created_at AS lm_created_at, lm.edited_at AS lm_edited_at, lm.deleted_at AS lm_deleted_at
         FROM page c
         LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq AND c.last_seq > 0
        ORDER BY date_trunc('milliseconds', c.last_activity_at) DESC, c.id DESC`,
      [userId, limit, after?.activityAt ?? null, after?.id ?? null, chatId ?? null],
    );
    return rows.map((r: ChatRow & Record<string, unknown>): ChatSummary => ({
      chat: toChat(r),
      memberCount: Number(r.member_count),
      unreadCount: Number(r.unread_count),
      peerId: (r.peer_id as string | null) ?? null,
      lastMessage: r.lm_id
        ? {
            id: r.lm_id as string,
            chatId: r.id,
            seq: Number(r.lm_seq),
            senderId: r.lm_sender_id as string,
            clientId: r.lm_client_id as string | null,
            text: r.lm_text as string | null,
            createdAt: r.lm_created_at as Date,
            editedAt: r.lm_edited_at as Date | null,
            deletedAt: r.lm_deleted_at as Date | null,
          }
        : null,
    }));
  }

  async rename(chatId: string, title: string, check: ActorCheck): Promise<{ chat: Chat; changed: boolean }> {
    try {
      return await this.db.transaction(async (tx) => {
        if (!(await lockChat(tx, chatId))) throw chatNotFound();
        await checkActor(tx, chatId, check);
        const [row] = returnedRows<ChatRow>(
          await tx.query(
            `UPDATE chats SET title = $2, updated_at = now(), last_activity_at = now(), version = version + 1
              WHERE id = $1 AND title IS DISTINCT FROM $2 RETURNING *`,
            [chatId, title],
          ),
        );
        if (row) return { chat: toChat(row), changed: true };
        const [same] = (await tx.query(`SELECT * FROM chats WHERE id = $1`, [chatId])) as ChatRow[];
        return { chat: toChat(same), changed: false };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'chats_owner_title')) throw ownerTitleTaken();
      throw error;
    }
  }

  async delete(chatId: string, check: ActorCheck): Promise<string[]> {
    const memberIds = await this.db.transaction(async (tx) => {
      if (!(await lockChat(tx, chatId))) throw chatNotFound();
      await checkActor(tx, chatId, check);
      return deleteLockedChat(tx, chatId);
    });
    this.purges.start(chatId);
    return memberIds;
  }

  async addMembers(chatId: string, userIds: string[], maxMembers: number, check: ActorCheck): Promise<MembersAdded> {
    return this.db.transaction(async (tx) => {
      // Sends wait for the lock, so the joiners' first message is the one after lastSeq.
      const locked = await lockChat(tx, chatId);
      if (!locked) throw chatNotFound();
      const { lastSeq } = locked;
      await checkActor(tx, chatId, check);
      const current = new Set(
        ((await tx.query(`SELECT user_id FROM chat_members WHERE chat_id = $1`, [chatId])) as Array<{ user_id: string }>).map(
          (r) => r.user_id,
        ),
      );
      const joining = [...new Set(userIds)].filter((id) => !current.has(id));
      if (current.size + joining.length > maxMembers) throw chatFull(maxMembers);
      if (joining.length === 0) return { added: [], memberIds: [...current], lastSeq, version: locked.version };
      // Joiners start with everything so far read: history is there to scroll, not unread. Where
      // they came in (joined_seq) keeps them off the readers of what was sent before.
      await tx.query(
        `INSERT INTO chat_members (chat_id, user_id, role, last_read_seq, last_read_at, joined_seq)
         SELECT $1, u, 'member', $3, now(), $3 FROM unnest($2::uuid[]) AS u`,
        [chatId, joining, lastSeq],
      );
      return { added: joining, memberIds: [...current, ...joining], lastSeq, version: await touchChat(tx, chatId) };
    });
  }

  async removeMember(chatId: string, userId: string, decide: (members: Member[]) => RemovalPlan): Promise<RemovalOutcome> {
    const outcome = await this.db.transaction(async (tx): Promise<RemovalOutcome> => {
      // Sends wait for the lock, so lastSeq is the last message the leaving member was in the chat for.
      const locked = await lockChat(tx, chatId);
      if (!locked) throw chatNotFound();
      const { lastSeq } = locked;
      const members = await this.members(chatId, tx);
      const plan = decide(members);
      if (plan.deleteChat) {
        await deleteLockedChat(tx, chatId);
        return { deleted: true, remaining: [], lastSeq: 0, version: 0 };
      }
      if (plan.successors.length > 0) await this.handOver(tx, chatId, plan.successors);
      const removed = returnedRows(
        await tx.query(`DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2 RETURNING user_id`, [chatId, userId]),
      );
      if (removed.length === 0) throw memberNotFound();
      const remaining = members.map((m) => m.userId).filter((id) => id !== userId);
      return { deleted: false, remaining, lastSeq, version: await touchChat(tx, chatId) };
    });
    if (outcome.deleted) this.purges.start(chatId);
    return outcome;
  }

  async setRole(chatId: string, userId: string, role: MemberRole, check: ActorCheck): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        if (!(await lockChat(tx, chatId))) throw chatNotFound();
        await checkActor(tx, chatId, check);
        if (role === 'owner') await this.transferOwnership(tx, chatId, userId);
        else {
          const updated = returnedRows(
            await tx.query(`UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2 RETURNING user_id`, [
              chatId,
              userId,
              role,
            ]),
          );
          if (updated.length === 0) throw memberNotFound();
        }
        await touchChat(tx, chatId);
      });
    } catch (error) {
      if (isUniqueViolation(error, 'chats_owner_title')) throw newOwnerTitleTaken();
      throw error;
    }
  }

  async contactsOf(userId: string): Promise<string[]> {
    const rows: Array<{ user_id: string }> = await this.db.query(
      `SELECT DISTINCT o.user_id FROM chat_members me JOIN chat_members o ON o.chat_id = me.chat_id WHERE me.user_id = $1 AND o.user_id <> $1`,
      [userId],
    );
    return rows.map((r) => r.user_id);
  }

  async directChatsOf(userId: string): Promise<Array<{ chat: Chat; peerId: string }>> {
    const rows: Array<ChatRow & { peer_id: string }> = await this.db.query(
      `SELECT c.*, o.user_id AS peer_id FROM chat_members me
         JOIN chats c ON c.id = me.chat_id AND c.type = 'direct'
         JOIN chat_members o ON o.chat_id = me.chat_id AND o.user_id <> me.user_id
        WHERE me.user_id = $1`,
      [userId],
    );
    return rows.map((row) => ({ chat: toChat(row), peerId: row.peer_id }));
  }

  /**
   * Gives the group to the first successor who does not already own a group with its title, each
   * try in a savepoint so that a refused one leaves nothing behind.
   */
  private async handOver(tx: EntityManager, chatId: string, successors: string[]): Promise<void> {
    for (const successor of successors) {
      await tx.query(`SAVEPOINT hand_over`);
      try {
        await this.transferOwnership(tx, chatId, successor);
        await tx.query(`RELEASE SAVEPOINT hand_over`);
        return;
      } catch (error) {
        await tx.query(`ROLLBACK TO SAVEPOINT hand_over`);
        if (!isUniqueViolation(error, 'chats_owner_title')) throw error;
      }
    }
    throw noSuccessorCanOwn();
  }

  private async transferOwnership(tx: EntityManager, chatId: string, userId: string): Promise<void> {
    // Both member rows locked in user_id order, the one order for several of a chat's member rows.
    const rows: Array<{ user_id: string }> = await tx.query(
      `SELECT user_id FROM chat_members WHERE chat_id = $1 AND (role = 'owner' OR user_id = $2) ORDER BY user_id FOR UPDATE`,
      [chatId, userId],
    );
    if (!rows.some((r) => r.user_id === userId)) throw memberNotFound();
    await tx.query(`UPDATE chat_members SET role = 'admin' WHERE chat_id = $1 AND role = 'owner'`, [chatId]);
    await tx.query(`UPDATE chat_members SET role = 'owner' WHERE chat_id = $1 AND user_id = $2`, [chatId, userId]);
    await tx.query(`UPDATE chats SET owner_id = $2 WHERE id = $1`, [chatId, userId]);
  }
}

/**
 * Every change to a chat's membership or existence takes the chat row's lock first, as sending
 * does (it bumps last_seq): one lock order, so these never deadlock with each other. Returns
 * the chat's last seq and version, stable while the lock is held; undefined when the
 * chat is gone.
 */
async function lockChat(tx: EntityManager, chatId: string): Promise<{ lastSeq: number; version: number } | undefined> {
  const [row] = (await tx.query(`SELECT last_seq, version FROM chats WHERE id = $1 FOR UPDATE`, [chatId])) as Array<{
    last_seq: string;
    version: string;
  }>;
  return row ? { lastSeq: Number(row.last_seq), version: Number(row.version) } : undefined;
}

/**
 * Deletes a chat whose row lock the transaction holds, with its members (they cascade), notes its
 * messages for removal after the commit (ChatHistoryPurge: a long history would hold the lock
 * for seconds), and returns who its members were. The member rows are locked first, in user_id
 * order, the one order for several of a chat's member rows: the cascade alone would lock them in
 * the order it finds them, and deadlock with a statement that locked some in user_id order without
 * the chat's lock (claimSeenNotices, run as members read).
 */
async function deleteLockedChat(tx: EntityManager, chatId: string): Promise<string[]> {
  const members: Array<{ user_id: string }> = await tx.query(
    `SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY user_id FOR UPDATE`,
    [chatId],
  );
  const [chat] = returnedRows<{ last_seq: string }>(await tx.query(`DELETE FROM chats WHERE id = $1 RETURNING last_seq`, [chatId]));
  await ChatHistoryPurge.note(tx, chatId, Number(chat.last_seq));
  return members.map((m) => m.user_id);
}

/**
 * A change to the chat's members or roles, under its lock: it counts as activity, as a message
 * does, and makes the chat's next version (Chat.version), returned.
 */
async function touchChat(tx: EntityManager, chatId: string): Promise<number> {
  const [row] = returnedRows<{ version: string }>(
    await tx.query(`UPDATE chats SET updated_at = now(), last_activity_at = now(), version = version + 1 WHERE id = $1 RETURNING version`, [
      chatId,
    ]),
  );
  return Number(row.version);
}

function toChat(r: ChatRow): Chat {
  return {
    id: r.id,
    type: r.type,
    title: r.title,
    ownerId: r.owner_id,
    lastSeq: Number(r.last_seq),
    version: Number(r.version),
    lastActivityAt: r.last_activity_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
