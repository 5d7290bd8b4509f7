import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ConflictError, ForbiddenError, NotFoundError } from '../../../common/errors/domain-error.js';
import { UserRepository } from '../../users/user.repository.js';
import { ChatAccess, chatNotFound, memberNotFound } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { ChatsService } from '../chats.service.js';
import {
  canChangeRoles,
  canDelete,
  canManageMembers,
  canRemove,
  canRename,
  MAX_GROUP_MEMBERS,
  type MemberRole,
  normaliseTitle,
} from '../domain/chat.js';
import type { ChatDetailDto } from '../dto/chat.dto.js';
import { ChatDeletedEvent, ChatUpdatedEvent, MemberRemovedEvent, MembersAddedEvent } from '../events/chat.events.js';

export class RenameChatCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly title: string,
  ) {}
}

@CommandHandler(RenameChatCommand)
export class RenameChatHandler implements ICommandHandler<RenameChatCommand, ChatDetailDto> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, title }: RenameChatCommand): Promise<ChatDetailDto> {
    const refusal = ['CHAT_ADMIN_REQUIRED', 'Only the owner or an admin can rename this chat.'] as const;
    await this.access.requireGroupRole(chatId, actorId, canRename, ...refusal);
    const renamed = await this.chats.rename(chatId, normaliseTitle(title), this.access.lockedCheck(actorId, canRename, ...refusal));
    const memberIds = (await this.chats.members(chatId)).map((m) => m.userId);
    this.events.publish(new ChatUpdatedEvent(renamed, memberIds, actorId));
    return this.reads.detail(chatId, actorId);
  }
}

export class DeleteChatCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
  ) {}
}

@CommandHandler(DeleteChatCommand)
export class DeleteChatHandler implements ICommandHandler<DeleteChatCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId }: DeleteChatCommand): Promise<void> {
    const refusal = ['CHAT_OWNER_REQUIRED', 'Only the owner can delete this chat.'] as const;
    await this.access.requireGroupRole(chatId, actorId, canDelete, ...refusal);
    const memberIds = await this.chats.delete(chatId, this.access.lockedCheck(actorId, canDelete, ...refusal));
    this.events.publish(new ChatDeletedEvent(chatId, memberIds, actorId));
  }
}

export class AddMembersCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userIds: string[],
  ) {}
}

@CommandHandler(AddMembersCommand)
export class AddMembersHandler implements ICommandHandler<AddMembersCommand, ChatDetailDto> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly users: UserRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, userIds }: AddMembersCommand): Promise<ChatDetailDto> {
    const refusal = ['CHAT_ADMIN_REQUIRED', 'Only the owner or an admin can add members.'] as const;
    await this.access.requireGroupRole(chatId, actorId, canManageMembers, ...refusal);
    const wanted = [...new Set(userIds)];
    const found = new Set((await this.users.findByIds(wanted)).map((u) => u.id));
    const missing = wanted.filter((id) => !found.has(id));
    if (missing.length > 0) throw new NotFoundError('USER_NOT_FOUND', `No such user: ${missing.join(', ')}.`);
    // The members as the addition left them, from its own transaction: no query in between for
    // a send that waited on the chat to overtake (a joiner hears of the chat before its messages).
    const { added, memberIds, lastSeq } = await this.chats.addMembers(
      chatId,
      wanted,
      MAX_GROUP_MEMBERS,
      this.access.lockedCheck(actorId, canManageMembers, ...refusal),
    );
    if (added.length > 0) this.events.publish(new MembersAddedEvent(chatId, added, memberIds, actorId, lastSeq));
    return this.reads.detail(chatId, actorId);
  }
}

export class RemoveMemberCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userId: string,
  ) {}
}

@CommandHandler(RemoveMemberCommand)
export class RemoveMemberHandler implements ICommandHandler<RemoveMemberCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly events: EventBus,
  ) {}

  /**
   * Removing yourself is leaving. An owner who leaves hands the chat to the senior admin or member
   * (the senior one who does not already own a group with this title); the last one out deletes it.
   * Decided on the members as they are once the chat is locked, so two people leaving at once
   * never leave a group without an owner, or without members yet not deleted.
   */
  async execute({ actorId, chatId, userId }: RemoveMemberCommand): Promise<void> {
    await this.access.requireGroup(chatId, actorId);
    let removedReadSeq = 0;
    const outcome = await this.chats.removeMember(chatId, userId, (members) => {
      const actor = members.find((m) => m.userId === actorId);
      if (!actor) throw chatNotFound(); // left or removed since the access check
      const target = members.find((m) => m.userId === userId);
      if (!target) throw memberNotFound();
      if (!canRemove(actor, target)) throw new ForbiddenError('CHAT_ADMIN_REQUIRED', 'You cannot remove this member.');
      removedReadSeq = target.lastReadSeq;
      const remaining = members.filter((m) => m.userId !== userId);
      if (remaining.length === 0) return { deleteChat: true };
      // members() lists admins before members, oldest first: the senior one takes over.
      return { deleteChat: false, successors: target.role === 'owner' ? remaining.map((m) => m.userId) : [] };
    });
    if (outcome.deleted) this.events.publish(new ChatDeletedEvent(chatId, [userId], actorId));
    else this.events.publish(new MemberRemovedEvent(chatId, userId, outcome.remaining, actorId, removedReadSeq, outcome.lastSeq));
  }
}

export class ChangeRoleCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userId: string,
    readonly role: MemberRole,
  ) {}
}

@CommandHandler(ChangeRoleCommand)
export class ChangeRoleHandler implements ICommandHandler<ChangeRoleCommand, ChatDetailDto> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly reads: ChatsService,
    private readonly events: EventBus,
  ) {}

  async execute({ actorId, chatId, userId, role }: ChangeRoleCommand): Promise<ChatDetailDto> {
    const refusal = ['CHAT_OWNER_REQUIRED', 'Only the owner can change roles.'] as const;
    await this.access.requireGroupRole(chatId, actorId, canChangeRoles, ...refusal);
    const target = await this.chats.membership(chatId, userId);
    if (!target) throw memberNotFound();
    if (userId === actorId && role !== 'owner')
      throw new ConflictError('OWNER_MUST_TRANSFER', 'Give the owner role to someone else instead of demoting yourself.');
    if (target.role !== role) {
      await this.chats.setRole(chatId, userId, role, this.access.lockedCheck(actorId, canChangeRoles, ...refusal));
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
