import { Injectable } from '@nestjs/common';
import { decodeCursor, encodeCursor, type Page } from '../../common/pagination/cursor.js';
import { UserRepository } from '../users/user.repository.js';
import { toMessageDto } from '../messages/dto/message.dto.js';
import { chatNotFound } from './chat-access.js';
import { ChatRepository, type ChatListCursor } from './chat.repository.js';
import type { ChatSummary } from './domain/chat.js';
import type { ChatDetailDto, ChatDto } from './dto/chat.dto.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isListCursor = (v: unknown): v is ChatListCursor => {
  const c = v as Partial<ChatListCursor> | null;
  return (
    typeof c?.activityAt === 'string' &&
    !Number.isNaN(Date.parse(c.activityAt)) &&
    typeof c.id === 'string' &&
    UUID.test(c.id) &&
    Object.keys(c).length === 2
  );
};

/** Reads of chats, as the caller sees them. Writes are commands (commands/). */
@Injectable()
export class ChatsService {
  constructor(
    private readonly chats: ChatRepository,
    private readonly users: UserRepository,
  ) {}

  async list(userId: string, limit = 50, cursor?: string): Promise<Page<ChatDto>> {
    const after = decodeCursor(cursor, isListCursor);
    const rows = await this.chats.listForUser(userId, limit + 1, after);
    const page = rows.slice(0, limit);
    const names = await this.peerNames(page);
    const last = page[page.length - 1];
    return {
      items: page.map((s) => toChatDto(s, names)),
      nextCursor:
        rows.length > limit && last ? encodeCursor({ activityAt: last.chat.lastActivityAt.toISOString(), id: last.chat.id }) : null,
    };
  }

  async detail(chatId: string, userId: string): Promise<ChatDetailDto> {
    const [summary, members] = await Promise.all([this.chats.summary(chatId, userId), this.chats.members(chatId)]);
    if (!summary) throw chatNotFound();
    const users = await this.users.findByIds(members.map((m) => m.userId));
    const names = new Map(users.map((u) => [u.id, u.name]));
    return Object.assign(toChatDto(summary, names), {
      createdAt: summary.chat.createdAt.toISOString(),
      lastSeq: summary.chat.lastSeq,
      members: members.map((m) => ({
        userId: m.userId,
        name: names.get(m.userId) ?? '',
        role: m.role,
        lastReadSeq: m.lastReadSeq,
        joinedSeq: m.joinedSeq,
      })),
    });
  }

  private async peerNames(summaries: ChatSummary[]): Promise<Map<string, string>> {
    const ids = summaries.map((s) => s.peerId).filter((id): id is string => id !== null);
    const users = await this.users.findByIds([...new Set(ids)]);
    return new Map(users.map((u) => [u.id, u.name]));
  }
}

function toChatDto(s: ChatSummary, names: Map<string, string>): ChatDto {
  return {
    id: s.chat.id,
    type: s.chat.type,
    title: s.chat.type === 'direct' ? (s.peerId ? (names.get(s.peerId) ?? '') : '') : (s.chat.title ?? ''),
    memberCount: s.memberCount,
    lastMessage: s.lastMessage ? toMessageDto(s.lastMessage) : null,
    unreadCount: s.unreadCount,
    updatedAt: (s.chat.lastActivityAt > s.chat.updatedAt ? s.chat.lastActivityAt : s.chat.updatedAt).toISOString(),
  };
}
