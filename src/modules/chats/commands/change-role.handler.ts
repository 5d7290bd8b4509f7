import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ConflictError } from '../../../common/errors/domain-error.js';
import { ChatAccess, memberNotFound } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { ChatsService } from '../chats.service.js';
import { CHANGE_ROLES_RULE } from '../domain/chat.js';
import type { ChatDetailDto } from '../dto/chat.dto.js';
import { ChatUpdatedEvent } from '../events/chat.events.js';
import { ChangeRoleCommand } from './change-role.command.js';

@CommandHandler(ChangeRoleCommand)
export class ChangeRoleHandler implements ICommandHandler<ChangeRoleCommand, ChatDetailDto> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, userId, role }: ChangeRoleCommand): Promise<ChatDetailDto> {
    const check = await this.access.requireGroupRole(chatId, actorId, CHANGE_ROLES_RULE);
    const target = await this.chats.membership(chatId, userId);
    if (!target) throw memberNotFound();
    if (userId === actorId && role !== 'owner')
      throw new ConflictError('OWNER_MUST_TRANSFER', 'Give the owner role to someone else instead of demoting yourself.');
    if (target.role !== role) {
      await this.chats.setRole(chatId, userId, role, check);
      const [updated, members] = await Promise.all([this.chats.findById(chatId), this.chats.members(chatId)]);
      if (updated)
        this.events.publish(
          new ChatUpdatedEvent(
            updated,
            members.map((m) => m.userId),
            actorId,
          ),
        );
    }
    return this.reads.detail(chatId, actorId);
  }
}
