import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { RealtimeService } from '../../../realtime/realtime.service.js';
import { UserRenamedEvent } from '../../users/events/user-renamed.event.js';
import { ChatsService } from '../chats.service.js';

/**
 * A direct chat is titled with the other person's name: when someone renames themself, the people
 * they have direct chats with get `chat_updated` with the new title, as after a group's rename.
 * (Member names in groups are read with the chat: GET /chats/:id.)
 */
@EventsHandler(UserRenamedEvent)
export class DirectTitlesToSockets implements IEventHandler<UserRenamedEvent> {
  constructor(
    private readonly realtime: RealtimeService,
    private readonly reads: ChatsService,
  ) {}

  async handle({ userId }: UserRenamedEvent): Promise<void> {
    // The name read now (of two quick renames, the last one). Only what changed and what every
    // chat frame has: the count of unread messages and the last one are for new_message to move.
    for (const { recipient, item } of await this.reads.directItemsTitledBy(userId)) {
      const { id, type, title, memberCount, updatedAt, peer } = item;
      // Behind the chat's held messages, like every frame about a chat. No version: a direct
      // chat's never changes.
      await this.realtime.send(
        [recipient],
        { type: 'chat_updated', chat: { id, type, title, memberCount, updatedAt, peer } },
        { behind: id },
      );
    }
  }
}
