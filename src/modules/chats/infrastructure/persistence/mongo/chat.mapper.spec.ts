import { randomUUID } from 'node:crypto';
import type { Member, MemberRole } from '../../../domain/chat.js';
import { byRoleThenSeniority, type SummaryRow, toChatSummary } from './chat.mapper.js';

const member = (userId: string, role: MemberRole, joinedAt: string): Member => ({
  chatId: 'c',
  userId,
  role,
  joinedAt: new Date(joinedAt),
  lastReadSeq: 0,
  lastReadAt: null,
  joinedSeq: 0,
});

describe('byRoleThenSeniority', () => {
  it('lists the owner, then admins, then members, oldest first, then by id, as the SQL adapter does', () => {
    const members = [
      member('b', 'member', '2026-01-01T00:00:00Z'),
      member('z', 'admin', '2026-01-03T00:00:00Z'),
      member('a', 'member', '2026-01-01T00:00:00Z'),
      member('y', 'admin', '2026-01-02T00:00:00Z'),
      member('o', 'owner', '2026-01-05T00:00:00Z'),
    ];
    expect(members.sort(byRoleThenSeniority).map((m) => m.userId)).toEqual(['o', 'y', 'z', 'a', 'b']);
  });
});

describe('toChatSummary', () => {
  const at = new Date('2026-05-01T10:00:00.123Z');
  const row = (over: Partial<SummaryRow>): SummaryRow => ({
    _id: randomUUID(),
    type: 'group',
    title: 'Readers',
    ownerId: 'o',
    lastSeq: 0,
    lastActivityAt: at,
    createdAt: at,
    updatedAt: at,
    memberCount: 3,
    last: [],
    unread: [],
    ...over,
  });

  it('reads a chat with nothing sent as no last message, nothing unread and no peer', () => {
    const r = row({});
    expect(toChatSummary(r)).toEqual({
      chat: {
        id: r._id,
        type: 'group',
        title: 'Readers',
        ownerId: 'o',
        lastSeq: 0,
        version: 0,
        lastActivityAt: at,
        createdAt: at,
        updatedAt: at,
      },
      memberCount: 3,
      unreadCount: 0,
      lastMessage: null,
      peerId: null,
    });
  });

  it('reads the newest message, the unread count and the peer of a direct chat', () => {
    const r = row({
      type: 'direct',
      title: null,
      ownerId: null,
      lastSeq: 7,
      peerId: 'p',
      memberCount: 2,
      unread: [{ n: 4 }],
      last: [{ _id: 'm', chatId: 'c', seq: 7, senderId: 'p', clientId: null, text: 'hi', createdAt: at, editedAt: null, deletedAt: null }],
    });
    expect(toChatSummary(r)).toMatchObject({
      unreadCount: 4,
      peerId: 'p',
      lastMessage: {
        id: 'm',
        chatId: 'c',
        seq: 7,
        senderId: 'p',
        clientId: null,
        text: 'hi',
        createdAt: at,
        editedAt: null,
        deletedAt: null,
      },
    });
  });
});
