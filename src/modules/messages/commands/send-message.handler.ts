import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { BackgroundWork } from '../../../common/concurrency/background-work.js';
import { uuidV7 } from '../../../common/ids/uuid-v7.js';
import { MessageRepeatedEvent, MessageSeenEvent, MessageSentEvent } from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';
import { SendMessageCommand, type SendMessageResult } from './send-message.command.js';
import { errorMessage } from '../../../common/errors/error-message.js';

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
        `Could not work out the message_seen notices after a send to chat ${chatId} (${errorMessage(error)}); those senders miss this notice (their messages still show as read in GET …/reads).`,
      );
    }
  }
}
