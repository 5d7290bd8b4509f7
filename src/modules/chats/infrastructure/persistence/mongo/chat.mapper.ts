import { toMessage } from '../../../../messages/infrastructure/persistence/mongo/message.mapper.js';
import type { MessageRecord } from '../../../../messages/infrastructure/persistence/mongo/message.schema.js';
import type { Chat, ChatSummary, Member } from '../../../domain/chat.js';
import type { ChatRecord, MemberRecord } from './chat.schema.js';

export function toChat(r: Omit<ChatRecord, 'memberIds'>): Chat {
  return {
    id: r._id,
    type: r.type,
    title: r.title ?? null,
    ownerId: r.ownerId ?? null,
    lastSeq: r.lastSeq,
    version: r.version ?? 0,
    lastActivityAt: r.lastActivityAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function toMember(r: MemberRecord): Member {
  return {
    chatId: r.chatId,
    userId: r.userId,
    role: r.role,
    joinedAt: r.joinedAt,
    lastReadSeq: r.lastReadSeq,
    lastReadAt: r.lastReadAt ?? null,
    joinedSeq: r.joinedSeq ?? 0,
  };
}

const ROLE_ORDER = { owner: 0, admin: 1, member: 2 } as const;

/** Owner, admins, members; oldest first within each, then by id: the order the SQL adapter returns. */
export function byRoleThenSeniority(a: Member, b: Member): number {
  return (
    ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
    a.joinedAt.getTime() - b.joinedAt.getTime() ||
    (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)
  );
}

/** One row of the chat list aggregation (MongoChatRepository.summaries). */
export interface SummaryRow extends Omit<ChatRecord, 'memberIds'> {
  memberCount: number;
  /** The other member of a direct chat; absent for groups. */
  peerId?: string | null;
  /** The message whose seq is lastSeq, if there is one. */
  last: MessageRecord[];
  /** [{ n }] when anything is unread, else []. */
  unread: Array<{ n: number }>;
}

export function toChatSummary(row: SummaryRow): ChatSummary {
  return {
    chat: toChat(row),
    memberCount: row.memberCount,
    unreadCount: row.unread[0]?.n ?? 0,
    lastMessage: row.last[0] ? toMessage(row.last[0]) : null,
    peerId: row.peerId ?? null,
  };
}
