import { Injectable, Optional } from '@nestjs/common';
import { decodeCursor, encodeCursor, type Page } from '../../common/pagination/cursor.js';
import { PresenceQuery } from '../../realtime/presence-query.js';
import { avatarUrlOf, type User } from '../users/domain/user.js';
import type { PublicUserDto } from '../users/dto/user.dto.js';
import { UserRepository } from '../users/user.repository.js';
import { toPublic } from '../users/dto/user.dto.js';
import { toMessageDto } from '../messages/dto/message.dto.js';
import { chatNotFound } from './chat-access.js';
import { ChatRepository, type ChatListCursor } from './chat.repository.js';
import type { Chat, ChatSummary } from './domain/chat.js';
import type { ChatDetailDto, ChatDto } from './dto/chat.dto.js';
import { isLowerCaseUuid } from '../../common/ids/uuid.js';

/** Cursors are made from stored ids, which are lower case. */
const isListCursor = (v: unknown): v is ChatListCursor => {
  const c = v as Partial<ChatListCursor> | null;
  return typeof c?.activityAt === 'string' && isInstant(c.activityAt) && isLowerCaseUuid(c.id) && Object.keys(c).length === 2;
};

/**
 * What `Date.toISOString()` makes for a year 1–9999, and nothing else: `Date.parse` takes "1"
 * (the year 2001) and rolls 30 February over, which PostgreSQL refuses (a 500, not a 400).
 */
function isInstant(text: string): boolean {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(text) || text.startsWith('0000')) return false;
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString() === text;
}

/** Reads of chats, as the caller sees them. Writes are commands (commands/). */
@Injectable()
export class ChatsService {
  constructor(
    private readonly chats: ChatRepository,
    private readonly users: UserRepository,
    @Optional() private readonly presence?: PresenceQuery,
  ) {}

  async list(userId: string, limit = 50, cursor?: string): Promise<Page<ChatDto>> {
    const after = decodeCursor(cursor, isListCursor);
    const rows = await this.chats.listForUser(userId, limit + 1, after);
    const page = rows.slice(0, limit);
    const peers = await this.peersOf(page.flatMap((s) => (s.peerId ? [s.peerId] : [])));
    const last = page[page.length - 1];
    return {
      items: page.map((s) => toChatDto(s, peers)),
      nextCursor:
        rows.length > limit && last ? encodeCursor({ activityAt: last.chat.lastActivityAt.toISOString(), id: last.chat.id }) : null,
    };
  }

  /**
   * A chat just created, as `list` shows it to each of its members (no message, nothing unread),
   * with no query per recipient: a group's is the same for all, a direct chat's is titled with the
   * other person's name and carries their profile.
   */
  async newItems(chat: Chat, memberIds: string[]): Promise<Map<string, ChatDto>> {
    const item = (peerId: string | null, peers: Map<string, PublicUserDto>) =>
      toChatDto({ chat, memberCount: memberIds.length, unreadCount: 0, lastMessage: null, peerId }, peers);
    if (chat.type === 'group') {
      const shared = item(null, new Map());
      return new Map(memberIds.map((id) => [id, shared]));
    }
    const peers = await this.peersOf(memberIds);
    return new Map(memberIds.map((id) => [id, item(memberIds.find((m) => m !== id) ?? null, peers)]));
  }

  /**
   * The direct chats titled with this user's name, each as the other person's list shows it (the
   * name and profile as they are now): two reads, however many chats.
   */
  async directItemsTitledBy(userId: string): Promise<Array<{ recipient: string; item: ChatDto }>> {
    const [direct, peers] = await Promise.all([this.chats.directChatsOf(userId), this.peersOf([userId])]);
    return direct.map(({ chat, peerId }) => ({
      recipient: peerId,
      item: toChatDto({ chat, memberCount: 2, unreadCount: 0, lastMessage: null, peerId: userId }, peers),
    }));
  }

  async detail(chatId: string, userId: string): Promise<ChatDetailDto> {
    const [summary, members] = await Promise.all([this.chats.summary(chatId, userId), this.chats.members(chatId)]);
    if (!summary) throw chatNotFound();
    // The peer is among the members: their user row and presence are read once, with the others'.
    const peerIds = summary.peerId ? [summary.peerId] : [];
    const memberIds = members.map((m) => m.userId);
    const [users, online] = await Promise.all([this.users.findByIds(memberIds), this.onlineAmong(memberIds)]);
    const peers = profilesOf(
      users.filter((u) => peerIds.includes(u.id)),
      online,
    );
    const byId = new Map(users.map((u) => [u.id, u]));
    return Object.assign(toChatDto(summary, peers), {
      createdAt: summary.chat.createdAt.toISOString(),
      lastSeq: summary.chat.lastSeq,
      members: members.map((m) => {
        const user = byId.get(m.userId);
        const avatarUrl = user ? avatarUrlOf(user) : null;
        return {
          userId: m.userId,
          name: user?.name ?? '',
          avatarUrl,
          online: online.has(m.userId),
          role: m.role,
          lastReadSeq: m.lastReadSeq,
          joinedSeq: m.joinedSeq,
        };
      }),
    });
  }

  /** The public profiles of direct chats' other people, by id: their names title the chats. */
  private async peersOf(peerIds: string[]): Promise<Map<string, PublicUserDto>> {
    const ids = [...new Set(peerIds)];
    if (ids.length === 0) return new Map();
    const [users, online] = await Promise.all([this.users.findByIds(ids), this.onlineAmong(ids)]);
    return profilesOf(users, online);
  }

  private async onlineAmong(ids: string[]): Promise<Set<string>> {
    return ids.length > 0 && this.presence ? this.presence.onlineAmong(ids) : new Set();
  }
}

function profilesOf(users: User[], online: Set<string>): Map<string, PublicUserDto> {
  return new Map(users.map((u) => [u.id, toPublic(u, online.has(u.id))]));
}

function toChatDto(s: ChatSummary, peers: Map<string, PublicUserDto>): ChatDto {
  const peer = s.chat.type === 'direct' && s.peerId ? (peers.get(s.peerId) ?? null) : null;
  return {
    id: s.chat.id,
    type: s.chat.type,
    title: s.chat.type === 'direct' ? (peer?.name ?? '') : (s.chat.title ?? ''),
    peer,
    memberCount: s.memberCount,
    lastMessage: s.lastMessage ? toMessageDto(s.lastMessage) : null,
    unreadCount: s.unreadCount,
    updatedAt: (s.chat.lastActivityAt > s.chat.updatedAt ? s.chat.lastActivityAt : s.chat.updatedAt).toISOString(),
  };
}
