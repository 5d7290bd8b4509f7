import { randomUUID } from 'node:crypto';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ValidationError } from '../../../common/errors/domain-error.js';
import { UserRepository } from '../../users/user.repository.js';
import { ChatRepository } from '../chat.repository.js';
import { ChatsService } from '../chats.service.js';
import { normaliseTitle } from '../domain/chat.js';
import { ChatCreatedEvent } from '../events/chat.events.js';
import { CreateChatCommand, type CreateChatResult } from './create-chat.command.js';
import { requireUsers } from './require-users.js';

@CommandHandler(CreateChatCommand)
export class CreateChatHandler implements ICommandHandler<CreateChatCommand, CreateChatResult> {
  constructor(
    private readonly chats: ChatRepository,
    private readonly users: UserRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, input }: CreateChatCommand): Promise<CreateChatResult> {
    if (input.type === 'direct') {
      const stray = (['title', 'memberIds'] as const).filter((field) => input[field] !== undefined);
      if (stray.length > 0) throw fieldsNotForType('direct', stray);
      const peerId = input.userId!;
      if (peerId === actorId)
        throw new ValidationError(
          'A direct chat needs another person.',
          [{ field: 'userId', message: 'userId must not be your own id' }],
          'DIRECT_CHAT_WITH_SELF',
        );
      await requireUsers(this.users, [peerId]);
      const { chat, created } = await this.chats.findOrCreateDirect(randomUUID(), actorId, peerId);
      if (created) this.events.publish(new ChatCreatedEvent(chat, [actorId, peerId], actorId));
      return { chat: await this.reads.detail(chat.id, actorId), created };
    }

    if (input.userId !== undefined) throw fieldsNotForType('group', ['userId']);
    const memberIds = [...new Set(input.memberIds ?? [])].filter((id) => id !== actorId);
    await requireUsers(this.users, memberIds);
    const chat = await this.chats.createGroup({ id: randomUUID(), title: normaliseTitle(input.title!), ownerId: actorId }, memberIds);
    this.events.publish(new ChatCreatedEvent(chat, [actorId, ...memberIds], actorId));
    return { chat: await this.reads.detail(chat.id, actorId), created: true };
  }
}

/** Every field of the body that the other type of chat takes, each named. */
function fieldsNotForType(type: string, fields: readonly string[]): ValidationError {
  return new ValidationError(
    `${fields.join(' and ')} ${fields.length > 1 ? 'do' : 'does'} not apply to a ${type} chat.`,
    fields.map((field) => ({ field, message: `${field} does not apply to a ${type} chat` })),
  );
}
