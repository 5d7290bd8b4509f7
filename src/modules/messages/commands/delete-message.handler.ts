import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ForbiddenError } from '../../../common/errors/domain-error.js';
import { ChatAccess, chatNotFound } from '../../chats/chat-access.js';
import type { MemberRole } from '../../chats/domain/chat.js';
import { MessageDeletedEvent } from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';
import { DeleteMessageCommand } from './delete-message.command.js';
import { MessageChangeQueue } from './message-change-queue.js';
import { messageNotFound } from '../message-errors.js';

const moderates = (role: MemberRole) => role === 'owner' || role === 'admin';
const notAllowed = () =>
  new ForbiddenError('NOT_MESSAGE_SENDER', 'Only the sender, or an owner or admin of the group, can delete this message.');

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
      const own = message.senderId === actorId;
      const group = chat.type === 'group';
      if (!own && !(group && moderates(member.role))) throw notAllowed();
      // Checked again as the delete is written: a member removed, or an admin demoted, since the
      // checks above is refused.
      const deleted = await this.messages.tombstone(chatId, messageId, {
        actorId,
        allow: (actor) => {
          if (!actor) throw chatNotFound();
          if (!own && !(group && moderates(actor.role))) throw notAllowed();
        },
      });
      if (deleted) this.events.publish(new MessageDeletedEvent(chatId, deleted.id, deleted.seq, await this.messages.memberIds(chatId)));
    });
  }
}
