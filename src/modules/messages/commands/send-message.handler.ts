import type { BeforeApplicationShutdown } from '@nestjs/common';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { BackgroundWork } from '../../../common/concurrency/background-work.js';
import { uuidV7 } from '../../../common/ids/uuid-v7.js';
import { MessageRepeatedEvent, MessageSentEvent } from '../events/message.events.js';
import { SeenNotices } from '../seen-notices.js';
import { MessageRepository } from '../message.repository.js';
import { SendMessageCommand, type SendMessageResult } from './send-message.command.js';

/** The one way a message is sent, for REST and WebSocket alike. Acknowledged only once committed. */
@CommandHandler(SendMessageCommand)
export class SendMessageHandler implements ICommandHandler<SendMessageCommand, SendMessageResult>, BeforeApplicationShutdown {
  /** Seen-notice checks still running after their send was answered; shutdown waits for them. */
  private readonly announcing = new BackgroundWork();

  constructor(
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
    private readonly seen: SeenNotices,
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
      void this.announcing.track(this.seen.announce(chatId, senderId, previousReadSeq, message.seq, 'a send'));
    }
    return { message, created };
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.announcing.settled();
  }
}
