import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ForbiddenError } from '../../../common/errors/domain-error.js';
import { ChatAccess } from '../../chats/chat-access.js';
import { MessageDeletedEvent } from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';
import { DeleteMessageCommand } from './delete-message.command.js';
import { MessageChangeQueue } from './message-change-queue.js';
import { messageNotFound } from '../message-errors.js';

@CommandHandler(DeleteMessageCommand)
export class DeleteMessageHandler implements ICommandHandler<DeleteMessageCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly changes: MessageChangeQueue,
  ) {}

  /** The sender, or the owner or an admin of a group, may delete. Deleting twice is fine. */
  execute({ actorId, chatId, messageId }: DeleteMessageCommand): Promise<void> {
    return this.changes.run(chatId, async () => {
      const { chat, member } = await this.access.chatAsMember(chatId, actorId);
      const message = await this.messages.findById(chatId, messageId);
      if (!message) throw messageNotFound();
      const moderator = chat.type === 'group' && (member.role === 'owner' || member.role === 'admin');
      if (message.senderId !== actorId && !moderator)
        throw new ForbiddenError('NOT_MESSAGE_SENDER', 'Only the sender, or an owner or admin of the group, can delete this message.');
      const deleted = await this.messages.tombstone(chatId, messageId);
      if (deleted) this.events.publish(new MessageDeletedEvent(chatId, deleted.id, deleted.seq, await this.messages.memberIds(chatId)));
    });
  }
}
