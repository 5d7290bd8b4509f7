import { Injectable, Logger } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { errorMessage } from '../../common/errors/error-message.js';
import { MessageSeenEvent } from './events/message.events.js';
import { MessageRepository } from './message.repository.js';

/**
 * `message_seen` goes to a sender once every other member has read up to their message. Whatever
 * moves a read pointer (a read, a send, which reads up to itself) or takes one away (a member
 * leaving unread) may complete that for the messages it passed over; this tells their senders,
 * each notice once (claimed in the store).
 */
@Injectable()
export class SeenNotices {
  private readonly logger = new Logger('Messages');

  constructor(
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
  ) {}

  /**
   * Announces the notices that `readerId`'s pointer moving from `from` to `to` in chat `chatId`
   * completed (`after` says what moved it, for the log). Never throws: what moved the pointer is
   * committed, and a notice missed is only a notice (GET …/reads still shows the message read).
   */
  async announce(chatId: string, readerId: string, from: number, to: number, after: string): Promise<void> {
    try {
      for (const notice of await this.messages.claimSeenNotices(chatId, readerId, from, to)) {
        this.events.publish(new MessageSeenEvent(chatId, notice.senderId, notice.seq));
      }
    } catch (error) {
      this.logger.error(
        `Could not work out the message_seen notices after ${after} in chat ${chatId} (${errorMessage(error)}); those senders miss this notice (their messages still show as read in GET …/reads).`,
      );
    }
  }
}
