import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ChatAccess } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { ChatsService } from '../chats.service.js';
import { normaliseTitle, RENAME_RULE } from '../domain/chat.js';
import type { ChatDetailDto } from '../dto/chat.dto.js';
import { ChatUpdatedEvent } from '../events/chat.events.js';
import { RenameChatCommand } from './rename-chat.command.js';

@CommandHandler(RenameChatCommand)
export class RenameChatHandler implements ICommandHandler<RenameChatCommand, ChatDetailDto> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, title }: RenameChatCommand): Promise<ChatDetailDto> {
    const check = await this.access.requireGroupRole(chatId, actorId, RENAME_RULE);
    const renamed = await this.chats.rename(chatId, normaliseTitle(title), check);
    // The title it had already: nothing changed, so nothing to tell (nor a chat to move up the lists).
    if (renamed.changed) {
      const memberIds = (await this.chats.members(chatId)).map((m) => m.userId);
      this.events.publish(new ChatUpdatedEvent(renamed.chat, memberIds, actorId));
    }
    return this.reads.detail(chatId, actorId);
  }
}
