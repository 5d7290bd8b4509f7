import { Logger } from '@nestjs/common';
import { EventBus, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { MemberRemovedEvent } from '../../chats/events/chat.events.js';
import { MessageSeenEvent } from '../events/message.events.js';
import { MessageRepository } from '../message.repository.js';

/**
 * `message_seen` goes to a sender once every other member has read up to a message. A member who
 * leaves (or is removed) unread can be the last one that was missing: with them gone, the
 * senders of what they had not read may now be read by everyone left, and are told so here.
 */
@EventsHandler(MemberRemovedEvent)
export class SeenAfterRemovalHandler implements IEventHandler<MemberRemovedEvent> {
  private readonly logger = new Logger('Messages');

  constructor(
    private readonly messages: MessageRepository,
    private readonly events: EventBus,
  ) {}

  async handle({ chatId, removedId, removedReadSeq }: MemberRemovedEvent): Promise<void> {
    try {
      for (const notice of await this.messages.claimSeenNotices(chatId, removedId, removedReadSeq, Number.MAX_SAFE_INTEGER)) {
        this.events.publish(new MessageSeenEvent(chatId, notice.senderId, notice.seq));
      }
    } catch (error) {
      this.logger.error(`Could not work out message_seen notices after a member left chat ${chatId}: ${String(error)}`);
    }
  }
}
