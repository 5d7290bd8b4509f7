import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ChatAccess } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { DELETE_RULE } from '../domain/chat.js';
import { ChatDeletedEvent } from '../events/chat.events.js';
import { DeleteChatCommand } from './delete-chat.command.js';

@CommandHandler(DeleteChatCommand)
export class DeleteChatHandler implements ICommandHandler<DeleteChatCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId }: DeleteChatCommand): Promise<void> {
    const check = await this.access.requireGroupRole(chatId, actorId, DELETE_RULE);
    const memberIds = await this.chats.delete(chatId, check);
    this.events.publish(new ChatDeletedEvent(chatId, memberIds, actorId));
  }
}
