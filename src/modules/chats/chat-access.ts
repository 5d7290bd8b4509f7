import { Injectable } from '@nestjs/common';
import { ConflictError, ForbiddenError, NotFoundError } from '../../common/errors/domain-error.js';
import { type ActorCheck, ChatRepository } from './chat.repository.js';
import type { Chat, Member, RoleRule } from './domain/chat.js';

export const chatNotFound = () => new NotFoundError('CHAT_NOT_FOUND', 'No such chat.');
/** A group title the owner already uses (titles are unique among the groups one user owns). */
export const titleTaken = () =>
  new ConflictError('CHAT_TITLE_TAKEN', 'You already own a group with this title (titles are compared ignoring case).');
/** Renaming a group to a title its owner (who may not be the one renaming) already uses. */
export const ownerTitleTaken = () => new ConflictError('CHAT_TITLE_TAKEN', "The group's owner already owns a group with this title.");
/** Handing a group to someone who already owns a group with its title. */
export const newOwnerTitleTaken = () =>
  new ConflictError(
    'CHAT_TITLE_TAKEN',
    'The new owner already owns a group with this title; one of the two groups needs another title first.',
  );

export const noSuccessorCanOwn = () =>
  new ConflictError(
    'CHAT_TITLE_TAKEN',
    'Everyone who could take this group over already owns a group with its title; rename the group, then leave.',
  );

export const chatFull = (maxMembers: number) => new ConflictError('CHAT_FULL', `A group holds at most ${maxMembers} members.`);

export const memberNotFound = () => new NotFoundError('MEMBER_NOT_FOUND', 'That user is not a member of this chat.');

/**
 * The one place that decides who may touch a chat. Non-members get 404 whatever they ask, so a
 * chat's existence never leaks; members lacking a role get 403.
 */
@Injectable()
export class ChatAccess {
  constructor(private readonly chats: ChatRepository) {}

  async member(chatId: string, userId: string): Promise<Member> {
    const membership = await this.chats.membership(chatId, userId);
    if (!membership) throw chatNotFound();
    return membership;
  }

  async chatAsMember(chatId: string, userId: string): Promise<{ chat: Chat; member: Member }> {
    const [chat, member] = await Promise.all([this.chats.findById(chatId), this.chats.membership(chatId, userId)]);
    if (!chat || !member) throw chatNotFound();
    return { chat, member };
  }

  /** Membership (404), then 409 DIRECT_CHAT_FIXED for a direct chat: for changes only groups allow. */
  async requireGroup(chatId: string, userId: string): Promise<{ chat: Chat; member: Member }> {
    const found = await this.chatAsMember(chatId, userId);
    if (found.chat.type === 'direct')
      throw new ConflictError('DIRECT_CHAT_FIXED', 'A direct chat always has exactly its two people; this does not apply to it.');
    return found;
  }

  /**
   * requireGroup, then the rule's role check (403). One lookup of chat and member. Returns the same
   * check for the change to run again inside its own transaction with the chat locked
   * (ChatRepository's ActorCheck): the role seen before may have been taken away, or the actor
   * removed, by a change that committed meanwhile.
   */
  async requireGroupRole(chatId: string, userId: string, rule: RoleRule): Promise<ActorCheck> {
    const found = await this.requireGroup(chatId, userId);
    if (!rule.allowed(found.member.role)) throw new ForbiddenError(rule.code, rule.message);
    return {
      actorId: userId,
      allow: (actor) => {
        if (!actor) throw chatNotFound();
        if (!rule.allowed(actor.role)) throw new ForbiddenError(rule.code, rule.message);
      },
    };
  }
}
