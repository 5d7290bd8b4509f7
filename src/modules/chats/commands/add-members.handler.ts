import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { UserRepository } from '../../users/user.repository.js';
import { ChatAccess } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { ChatsService } from '../chats.service.js';
import { ADD_MEMBERS_RULE, MAX_GROUP_MEMBERS } from '../domain/chat.js';
import { MembersAddedEvent } from '../events/chat.events.js';
import { AddMembersCommand, type AddMembersResult } from './add-members.command.js';
import { requireUsers } from './require-users.js';

@CommandHandler(AddMembersCommand)
export class AddMembersHandler implements ICommandHandler<AddMembersCommand, AddMembersResult> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly users: UserRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, userIds }: AddMembersCommand): Promise<AddMembersResult> {
    const check = await this.access.requireGroupRole(chatId, actorId, ADD_MEMBERS_RULE);
    const wanted = [...new Set(userIds)];
    await requireUsers(this.users, wanted);
    // The members as the addition left them, from its own transaction: no query in between for
    // a send that waited on the chat to overtake (a joiner hears of the chat before its messages).
    const { added, memberIds, lastSeq, version } = await this.chats.addMembers(chatId, wanted, MAX_GROUP_MEMBERS, check);
    if (added.length > 0) this.events.publish(new MembersAddedEvent(chatId, added, memberIds, actorId, lastSeq, version));
    return { chat: await this.reads.detail(chatId, actorId), added };
  }
}
