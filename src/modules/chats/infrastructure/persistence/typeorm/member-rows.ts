import type { EntityManager } from 'typeorm';
import type { ActorCheck } from '../../../chat.repository.js';
import type { Member, MemberRole } from '../../../domain/chat.js';

/** A chat_members row as node-postgres returns it. */
export interface MemberRow {
  chat_id: string;
  user_id: string;
  role: MemberRole;
  joined_at: Date;
  last_read_seq: string;
  last_read_at: Date | null;
  joined_seq: string;
}

export function toMember(r: MemberRow): Member {
  return {
    chatId: r.chat_id,
    userId: r.user_id,
    role: r.role,
    joinedAt: r.joined_at,
    lastReadSeq: Number(r.last_read_seq),
    joinedSeq: Number(r.joined_seq),
    lastReadAt: r.last_read_at,
  };
}

/**
 * Runs a change's permission check on the actor's member row as this transaction sees it. The
 * caller holds a lock on the chat's row first, which every change to the chat's members and
 * roles takes before it writes: the row read is the one the change is checked against until commit.
 */
export async function checkActor(tx: EntityManager, chatId: string, check: ActorCheck): Promise<void> {
  const [row] = (await tx.query(`SELECT * FROM chat_members WHERE chat_id = $1 AND user_id = $2`, [chatId, check.actorId])) as MemberRow[];
  check.allow(row ? toMember(row) : undefined);
}
