import type { Chat } from '../domain/chat.js';

/**
 * Published after a chat change is committed. Each carries the member ids at that moment, so
 * whoever delivers it (realtime) needs no further query and never reaches a removed member.
 */
export class ChatCreatedEvent {
  constructor(
    readonly chat: Chat,
    readonly memberIds: string[],
    readonly actorId: string,
  ) {}
}

export class ChatUpdatedEvent {
  constructor(
    readonly chat: Chat,
    readonly memberIds: string[],
    readonly actorId: string,
  ) {}
}

export class ChatDeletedEvent {
  constructor(
    readonly chatId: string,
    readonly memberIds: string[],
    readonly actorId: string,
  ) {}
}

export class MembersAddedEvent {
  constructor(
    readonly chatId: string,
    readonly addedIds: string[],
    /** Everyone in the chat afterwards, the added included. */
    readonly memberIds: string[],
    readonly actorId: string,
    /** The chat's last seq at the addition: the joiners' first message is the next. */
    readonly lastSeq: number,
    /** The chat's version after the addition (Chat.version). */
    readonly version: number,
  ) {}
}

export class MemberRemovedEvent {
  constructor(
    readonly chatId: string,
    readonly removedId: string,
    /** Those still in the chat; the removed member is told separately. */
    readonly memberIds: string[],
    readonly actorId: string,
    /** How far the removed member had read: senders of later messages may now be read by everyone left. */
    readonly removedReadSeq: number,
    /** The chat's last seq at the removal: the messages up to it go to the removed member before the frame that says they left. */
    readonly lastSeq: number,
    /** The chat's version after the removal (Chat.version). */
    readonly version: number,
  ) {}
}
