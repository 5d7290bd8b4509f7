import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { MemberRemovedEvent } from '../../chats/events/chat.events.js';
import { SeenNotices } from '../seen-notices.js';

/**
 * A member who leaves (or is removed) unread can be the last one a `message_seen` was waiting
 * for: with them gone, the senders of what they had not read may now be read by everyone left.
 */
@EventsHandler(MemberRemovedEvent)
export class SeenAfterRemovalHandler implements IEventHandler<MemberRemovedEvent> {
  constructor(private readonly seen: SeenNotices) {}

  async handle({ chatId, removedId, removedReadSeq }: MemberRemovedEvent): Promise<void> {
    await this.seen.announce(chatId, removedId, removedReadSeq, Number.MAX_SAFE_INTEGER, 'a member left');
  }
}
