import { Injectable } from '@nestjs/common';
import { ValidationError } from '../../common/errors/domain-error.js';
import type { Page } from '../../common/pagination/cursor.js';
import { ChatAccess } from '../chats/chat-access.js';
import { type MessageDto, toMessageDto } from './dto/message.dto.js';
import { DEFAULT_PAGE, type HistoryQueryDto, type MessageReaderDto } from './dto/message-requests.dto.js';
import { messageNotFound } from './message-errors.js';
import { MessageRepository } from './message.repository.js';
import type { Message } from './domain/message.js';

/** Reads of messages: history in its three modes, catch-up and readers. */
@Injectable()
export class MessagesService {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
  ) {}

  async history(userId: string, chatId: string, query: HistoryQueryDto): Promise<Page<MessageDto>> {
    const modes = [query.before, query.after, query.offset].filter((v) => v !== undefined).length;
    if (modes > 1)
      throw new ValidationError('Use one of before, after or offset, not several.', [
        { field: 'before', message: 'before, after and offset exclude each other' },
      ]);
    await this.access.member(chatId, userId);
    const limit = query.limit ?? DEFAULT_PAGE;

    if (query.offset !== undefined) {
      const { items, total } = await this.messages.page(chatId, limit, query.offset);
      return {
        items: items.map(toMessageDto),
        nextCursor: query.offset + items.length < total ? String(query.offset + items.length) : null,
        total,
      };
    }
    const rows = await this.messages.history(chatId, { limit: limit + 1, before: query.before, after: query.after });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toMessageDto), nextCursor: rows.length > limit && last ? String(last.seq) : null };
  }

  /**
   * Everything after `seq`, oldest first, in pages: for WebSocket `sync`. Membership is checked
   * before every page, not only the first: a catch-up of a long history takes a while, and a
   * member removed meanwhile (or a chat deleted, whose messages go after the delete) gets no page
   * read after that (CHAT_NOT_FOUND instead).
   */
  async *since(userId: string, chatId: string, seq: number, pageSize = 200): AsyncGenerator<Message[]> {
    let after = seq;
    for (;;) {
      await this.access.member(chatId, userId);
      const page = await this.messages.history(chatId, { limit: pageSize, after });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1].seq;
    }
  }

  async readers(userId: string, chatId: string, messageId: string): Promise<MessageReaderDto[]> {
    await this.access.member(chatId, userId);
    const message = await this.messages.findById(chatId, messageId);
    if (!message) throw messageNotFound();
    return (await this.messages.readers(message)).map((r) => ({ userId: r.userId, readAt: r.readAt.toISOString() }));
  }
}
