import { describe, expect, it } from '@jest/globals';
import { NotFoundError } from '../../common/errors/domain-error.js';
import type { ChatAccess } from '../chats/chat-access.js';
import type { Member } from '../chats/domain/chat.js';
import type { Message } from './domain/message.js';
import type { HistoryQuery, MessageRepository } from './message.repository.js';
import { MessagesService } from './messages.service.js';

const message = (seq: number): Message =>
  ({
    id: `m${seq}`,
    chatId: 'c',
    seq,
    senderId: 'u',
    clientId: null,
    text: `t${seq}`,
    createdAt: new Date(0),
    editedAt: null,
    deletedAt: null,
  }) as Message;

/** A chat of `total` messages; `member` says whether the caller is in it at each check. */
function service(total: number, member: () => boolean): MessagesService {
  const access = {
    member: async (): Promise<Member> => {
      if (!member()) throw new NotFoundError('CHAT_NOT_FOUND', 'No such chat.');
      return {} as Member;
    },
  } as unknown as ChatAccess;
  const messages = {
    history: async (_chatId: string, query: HistoryQuery) => {
      const from = (query.after ?? 0) + 1;
      return Array.from({ length: Math.max(0, Math.min(query.limit, total - from + 1)) }, (_, i) => message(from + i));
    },
  } as unknown as MessageRepository;
  return new MessagesService(access, messages);
}

describe('MessagesService.since (the catch-up of sync)', () => {
  it('reads every message after the seq, in pages, oldest first', async () => {
    const pages: number[][] = [];
    for await (const page of service(5, () => true).since('u', 'c', 1, 2)) pages.push(page.map((m) => m.seq));
    expect(pages).toEqual([
      [2, 3],
      [4, 5],
    ]);
  });

  it('stops with CHAT_NOT_FOUND at the first page after the caller stopped being a member', async () => {
    let checks = 0;
    const pages: number[][] = [];
    const reading = (async () => {
      for await (const page of service(10, () => ++checks <= 2).since('u', 'c', 0, 3)) pages.push(page.map((m) => m.seq));
    })();
    await expect(reading).rejects.toMatchObject({ code: 'CHAT_NOT_FOUND' });
    expect(pages).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });
});
