import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ForbiddenError } from '../../../common/errors/domain-error.js';
import { ChatAccess, chatNotFound } from '../../chats/chat-access.js';
import type { Message } from '../domain/message.js';
import { MessageEditedEvent } from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';
import { EditMessageCommand } from './edit-message.command.js';
import { MessageChangeQueue } from './message-change-queue.js';
import { messageNotFound } from '../message-errors.js';

@CommandHandler(EditMessageCommand)
export class EditMessageHandler implements ICommandHandler<EditMessageCommand, Message> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly changes: MessageChangeQueue,
  ) {}

  execute({ actorId, chatId, messageId, text }: EditMessageCommand): Promise<Message> {
    return this.changes.run(chatId, async () => {
      await this.access.member(chatId, actorId);
      const message = await this.messages.findById(chatId, messageId);
      if (!message) throw messageNotFound();
      if (message.senderId !== actorId) throw new ForbiddenError('NOT_MESSAGE_SENDER', 'Only the sender can edit a message.');
      // The text it has already: not an edit (no editedAt, no event). A deleted one is refused below.
      if (message.deletedAt === null && message.text === text) return message;
      // Still a member when the edit is written: one removed since the check above is refused.
      const edited = await this.messages.editText(chatId, messageId, text, {
        actorId,
        allow: (actor) => {
          if (!actor) throw chatNotFound();
        },
      });
      this.events.publish(new MessageEditedEvent(edited, await this.messages.memberIds(chatId)));
      return edited;
    });
  }
}
