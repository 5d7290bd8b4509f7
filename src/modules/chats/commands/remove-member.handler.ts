import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { ForbiddenError } from '../../../common/errors/domain-error.js';
import { ChatAccess, chatNotFound, memberNotFound } from '../chat-access.js';
import { ChatRepository } from '../chat.repository.js';
import { canRemove, type Member } from '../domain/chat.js';
import { ChatDeletedEvent, ChatUpdatedEvent, MemberRemovedEvent } from '../events/chat.events.js';
import { RemoveMemberCommand } from './remove-member.command.js';

@CommandHandler(RemoveMemberCommand)
export class RemoveMemberHandler implements ICommandHandler<RemoveMemberCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly chats: ChatRepository,
    private readonly events: EventBus,
  ) {}

  /**
   * Removing yourself is leaving. An owner who leaves hands the chat to the senior admin or member
   * (the senior one who does not already own a group with this title), and the members hear of it
   * as of a role change; the last one out deletes it.
   * Decided on the members as they are once the chat is locked, so two people leaving at once
   * never leave a group without an owner, or without members yet not deleted.
   */
  async execute({ actorId, chatId, userId }: RemoveMemberCommand): Promise<void> {
    await this.access.requireGroup(chatId, actorId);
    let removedReadSeq = 0;
    let ownerLeft = false;
    const outcome = await this.chats.removeMember(chatId, userId, (members) => {
      const actor = members.find((m) => m.userId === actorId);
      if (!actor) throw chatNotFound(); // left or removed since the access check
      const target = members.find((m) => m.userId === userId);
      if (!target) throw memberNotFound();
      if (!canRemove(actor, target)) throw removalRefused(target);
      removedReadSeq = target.lastReadSeq;
      ownerLeft = target.role === 'owner';
      const remaining = members.filter((m) => m.userId !== userId);
      if (remaining.length === 0) return { deleteChat: true };
      // members() lists admins before members, oldest first: the senior one takes over.
      return { deleteChat: false, successors: ownerLeft ? remaining.map((m) => m.userId) : [] };
    });
    if (outcome.deleted) {
      this.events.publish(new ChatDeletedEvent(chatId, [userId], actorId));
      return;
    }
    this.events.publish(
      new MemberRemovedEvent(chatId, userId, outcome.remaining, actorId, removedReadSeq, outcome.lastSeq, outcome.version),
    );
    // The group has a new owner: said as a role change says it (chat_updated), so that clients
    // showing roles fetch them again.
    if (ownerLeft) {
      const updated = await this.chats.findById(chatId);
      if (updated) this.events.publish(new ChatUpdatedEvent(updated, outcome.remaining, actorId));
    }
  }
}

/** Why a member may not remove `target` (canRemove said no), in the code of the role it would take. */
function removalRefused(target: Member): ForbiddenError {
  if (target.role === 'owner') {
    return new ForbiddenError(
      'CHAT_OWNER_REQUIRED',
      'The owner cannot be removed; the owner can leave, or give the role to someone else first.',
    );
  }
  if (target.role === 'admin') return new ForbiddenError('CHAT_OWNER_REQUIRED', 'Only the owner can remove an admin.');
  return new ForbiddenError('CHAT_ADMIN_REQUIRED', 'Only the owner or an admin can remove members.');
}
