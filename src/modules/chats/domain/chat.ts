import { normaliseLabel } from '../../../common/label.js';
import type { Message } from '../../messages/domain/message.js';

/** Conversations and who is in them. Plain data and rules: no Nest, no ORM. */
export type ChatType = 'direct' | 'group';
export type MemberRole = 'owner' | 'admin' | 'member';

export interface Chat {
  id: string;
  type: ChatType;
  /** Null for direct chats, whose title is the other person's name. */
  title: string | null;
  ownerId: string | null;
  lastSeq: number;
  /**
   * How many times its members, their roles or its title have changed. Bumped under the chat's
   * lock, so it orders the changes to one chat: frames telling of one carry it, and a connection
   * drops a frame older than what it was already told (it came late, through another instance).
   */
  version: number;
  lastActivityAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface Member {
  chatId: string;
  userId: string;
  role: MemberRole;
  joinedAt: Date;
  lastReadSeq: number;
  lastReadAt: Date | null;
  /**
   * The chat's last seq when this member was added (0: there from the start). Their read pointer
   * starts there, so the messages before are not unread; they were never sent them, so they are
   * not among those messages' readers either.
   */
  joinedSeq: number;
}

/** A row of "my chats": everything the list shows, from one query. */
export interface ChatSummary {
  chat: Chat;
  memberCount: number;
  unreadCount: number;
  lastMessage: Message | null;
  /** For direct chats: the other member (whose name is the title). */
  peerId: string | null;
}

export const TITLE_MAX_LENGTH = 255;
export const MAX_GROUP_MEMBERS = 1000;

/** The unique key of the direct chat between two users, the same whichever of them asks. */
export function directKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** As names: NFC, so that "Café" typed either way is one title to the uniqueness rule; trimmed; white space folded. */
export function normaliseTitle(title: string): string {
  return normaliseLabel(title);
}

export const canManageMembers = (role: MemberRole): boolean => role === 'owner' || role === 'admin';
export const canRename = canManageMembers;
export const canDelete = (role: MemberRole): boolean => role === 'owner';
export const canChangeRoles = (role: MemberRole): boolean => role === 'owner';

/** Who may make a change to a group, and the refusal (403) everyone else gets. */
export interface RoleRule {
  allowed(role: MemberRole): boolean;
  code: string;
  message: string;
}

export const ADD_MEMBERS_RULE: RoleRule = {
  allowed: canManageMembers,
  code: 'CHAT_ADMIN_REQUIRED',
  message: 'Only the owner or an admin can add members.',
};
export const RENAME_RULE: RoleRule = {
  allowed: canRename,
  code: 'CHAT_ADMIN_REQUIRED',
  message: 'Only the owner or an admin can rename this chat.',
};
export const DELETE_RULE: RoleRule = { allowed: canDelete, code: 'CHAT_OWNER_REQUIRED', message: 'Only the owner can delete this chat.' };
export const CHANGE_ROLES_RULE: RoleRule = {
  allowed: canChangeRoles,
  code: 'CHAT_OWNER_REQUIRED',
  message: 'Only the owner can change roles.',
};

/** Whether `actor` may remove `target` from a group: admins and owners may remove lower ranks; anyone may leave. */
export function canRemove(actor: Member, target: Member): boolean {
  if (actor.userId === target.userId) return true;
  if (target.role === 'owner') return false;
  if (actor.role === 'owner') return true;
  return actor.role === 'admin' && target.role === 'member';
}
