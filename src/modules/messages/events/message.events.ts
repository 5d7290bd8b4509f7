import type { Message } from '../domain/message.js';

/** Published after the change is committed, with the chat's members at that moment. */
export class MessageSentEvent {
  constructor(
    readonly message: Message,
    readonly memberIds: string[],
  ) {}
}

/**
 * A send repeated with its clientId: nothing was stored, but the first publication of the
 * message may never have gone out (its instance died between the commit and the publish, which
 * is why the client is retrying). Published again for the connections that never had it.
 */
export class MessageRepeatedEvent {
  constructor(
    readonly message: Message,
    readonly memberIds: string[],
  ) {}
}

export class MessageEditedEvent {
  constructor(
    readonly message: Message,
    readonly memberIds: string[],
  ) {}
}

export class MessageDeletedEvent {
  constructor(
    readonly chatId: string,
    readonly messageId: string,
    readonly seq: number,
    readonly memberIds: string[],
  ) {}
}

export class ChatReadEvent {
  constructor(
    readonly chatId: string,
    readonly userId: string,
    readonly seq: number,
    readonly memberIds: string[],
  ) {}
}

/** Every other member has read the sender's messages up to `seq`; told to the sender once. */
export class MessageSeenEvent {
  constructor(
    readonly chatId: string,
    readonly senderId: string,
    readonly seq: number,
  ) {}
}
