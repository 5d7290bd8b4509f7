import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ValidationError } from '../../../common/errors/domain-error.js';
import { ChatAccess } from '../../chats/chat-access.js';
import { ChatReadEvent } from '../events/message.events.js';
import { SeenNotices } from '../seen-notices.js';
import { MessageRepository } from '../message.repository.js';
import { MarkReadCommand } from './mark-read.command.js';

/** Moves the read pointer forward (never back), tells the chat, and tells senders when all have read. */
@CommandHandler(MarkReadCommand)
export class MarkReadHandler implements ICommandHandler<MarkReadCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly seen: SeenNotices,
  ) {}

  async execute({ userId, chatId, seq }: MarkReadCommand): Promise<void> {
    const { chat } = await this.access.chatAsMember(chatId, userId);
    if (seq > chat.lastSeq) {
      throw new ValidationError(
        `seq ${seq} is beyond the newest message (${chat.lastSeq}).`,
        [{ field: 'seq', message: `seq must be at most ${chat.lastSeq}` }],
        'INVALID_SEQ',
      );
    }
    const moved = await this.messages.moveReadPointer(chatId, userId, seq);
    if (!moved) return;
    this.events.publish(new ChatReadEvent(chatId, userId, moved.to, moved.memberIds));
    await this.seen.announce(chatId, userId, moved.from, moved.to, 'a read');
  }
}
