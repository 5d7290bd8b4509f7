import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { BackgroundWork } from '../../../common/concurrency/background-work.js';
import { KeyedSequencer } from '../../../common/concurrency/keyed-sequencer.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../common/errors/domain-error.js';
import { uuidV7 } from '../../../common/ids/uuid-v7.js';
import { ChatAccess } from '../../chats/chat-access.js';
import type { Message } from '../domain/message.js';
import {
  ChatReadEvent,
  MessageDeletedEvent,
  MessageEditedEvent,
  MessageRepeatedEvent,
  MessageSeenEvent,
  MessageSentEvent,
} from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';

const messageNotFound = () => new NotFoundError('MESSAGE_NOT_FOUND', 'No such message in this chat.');

export class SendMessageCommand {
  constructor(
    readonly senderId: string,
    readonly chatId: string,
    readonly text: string,
    readonly clientId: string | null,
    /**
     * Called once the send is queued for storage: from then on its place in the chat is fixed
     * relative to later sends (the store keeps the order of its calls per chat), so a connection
     * can start on its next frame without waiting for this commit.
     */
    readonly onQueued?: () => void,
  ) {}
}

export interface SendMessageResult {
  message: Message;
  /** False for a repeated clientId: nothing was stored or broadcast. */
  created: boolean;
}

/** The one way a message is sent, for REST and WebSocket alike. Acknowledged only once committed. */
@CommandHandler(SendMessageCommand)
export class SendMessageHandler implements ICommandHandler<SendMessageCommand, SendMessageResult>, BeforeApplicationShutdown {
  private readonly logger = new Logger('Messages');
  /** Seen-notice checks still running after their send was answered; shutdown waits for them. */
  private readonly announcing = new BackgroundWork();

  constructor(
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
  ) {}

  async execute({ senderId, chatId, text, clientId, onQueued }: SendMessageCommand): Promise<SendMessageResult> {
    // Time-ordered ids: a new message's key lands at the end of the primary-key index.
    const stored = this.messages.append({ id: uuidV7(), chatId, senderId, clientId, text });
    onQueued?.();
    const { message, created, memberIds, previousReadSeq } = await stored;
    if (!created) {
      this.events.publish(new MessageRepeatedEvent(message, memberIds));
      return { message, created };
    }
    this.events.publish(new MessageSentEvent(message, memberIds));
    // Sending moved the sender's read pointer; if it jumped over others' messages, their senders
    // may now have been read by everyone. (Right after one's own last message there is nothing to
    // check.) The send is committed, so its answer does not wait for that, nor fail with it.
    if (previousReadSeq !== undefined && previousReadSeq < message.seq - 1) {
      void this.announcing.track(this.announceSeen(chatId, senderId, previousReadSeq, message.seq));
    }
    return { message, created };
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.announcing.settled();
  }

  private async announceSeen(chatId: string, readerId: string, from: number, to: number): Promise<void> {
    try {
      for (const notice of await this.messages.claimSeenNotices(chatId, readerId, from, to)) {
        this.events.publish(new MessageSeenEvent(chatId, notice.senderId, notice.seq));
      }
    } catch (error) {
      this.logger.error(
        `Could not work out the message_seen notices after a send to chat ${chatId} (${error instanceof Error ? error.message : String(error)}); those senders miss this notice (their messages still show as read in GET …/reads).`,
      );
    }
  }
}

export class EditMessageCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly messageId: string,
    readonly text: string,
  ) {}
}

/**
 * Edits and deletes of one chat run one at a time on this instance, each from its checks to its
 * announcement, so members hear of them in the order they were stored: an edit stored just before
 * a delete could otherwise be announced after it and bring the deleted text back.
 */
@Injectable()
export class MessageChangeQueue {
  private readonly chats = new KeyedSequencer();

  run<T>(chatId: string, change: () => Promise<T>): Promise<T> {
    return this.chats.run(chatId, change);
  }
}

@CommandHandler(EditMessageCommand)
export class EditMessageHandler implements ICommandHandler<EditMessageCommand, Message> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly changes: MessageChangeQueue,
  ) {}

  execute({ actorId, chatId, messageId, text }: EditMessageCommand): Promise<Message> {
    return this.changes.run(chatId, async () => {
      await this.access.member(chatId, actorId);
      const message = await this.messages.findById(chatId, messageId);
      if (!message) throw messageNotFound();
      if (message.senderId !== actorId) throw new ForbiddenError('NOT_MESSAGE_SENDER', 'Only the sender can edit a message.');
      const edited = await this.messages.editText(chatId, messageId, text);
      this.events.publish(new MessageEditedEvent(edited, await this.messages.memberIds(chatId)));
      return edited;
    });
  }
}

export class DeleteMessageCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly messageId: string,
  ) {}
}

@CommandHandler(DeleteMessageCommand)
export class DeleteMessageHandler implements ICommandHandler<DeleteMessageCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly changes: MessageChangeQueue,
  ) {}

  /** The sender, or the owner or an admin of a group, may delete. Deleting twice is fine. */
  execute({ actorId, chatId, messageId }: DeleteMessageCommand): Promise<void> {
    return this.changes.run(chatId, async () => {
      const { chat, member } = await this.access.chatAsMember(chatId, actorId);
      const message = await this.messages.findById(chatId, messageId);
      if (!message) throw messageNotFound();
      const moderator = chat.type === 'group' && (member.role === 'owner' || member.role === 'admin');
      if (message.senderId !== actorId && !moderator)
        throw new ForbiddenError('NOT_MESSAGE_SENDER', 'Only the sender, or an owner or admin of the group, can delete this message.');
      const deleted = await this.messages.tombstone(chatId, messageId);
      if (deleted) this.events.publish(new MessageDeletedEvent(chatId, deleted.id, deleted.seq, await this.messages.memberIds(chatId)));
    });
  }
}

export class MarkReadCommand {
  constructor(
    readonly userId: string,
    readonly chatId: string,
    readonly seq: number,
  ) {}
}

/** Moves the read pointer forward (never back), tells the chat, and tells senders when all have read. */
@CommandHandler(MarkReadCommand)
export class MarkReadHandler implements ICommandHandler<MarkReadCommand, void> {
  constructor(
    private readonly access: ChatAccess,
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
  ) {}

  async execute({ userId, chatId, seq }: MarkReadCommand): Promise<void> {
    const { chat } = await this.access.chatAsMember(chatId, userId);
    if (seq > chat.lastSeq) {
      throw new ValidationError(
        `seq ${seq} is beyond the newest message (${chat.lastSeq}).`,
        [{ field: 'seq', message: `seq must be at most ${chat.lastSeq}` }],
        'INVALID_SEQ',
      );
    }
    const moved = await this.messages.moveReadPointer(chatId, userId, seq);
    if (!moved) return;
    this.events.publish(new ChatReadEvent(chatId, userId, moved.to, moved.memberIds));
    for (const notice of await this.messages.claimSeenNotices(chatId, userId, moved.from, moved.to)) {
      this.events.publish(new MessageSeenEvent(chatId, notice.senderId, notice.seq));
    }
  }
}
