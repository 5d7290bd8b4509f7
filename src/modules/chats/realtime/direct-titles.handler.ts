import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { RealtimeService } from '../../../realtime/realtime.service.js';
import { UserRenamedEvent } from '../../users/events/user-renamed.event.js';
import { ChatRepository } from '../chat.repository.js';
import { directFrame } from './chat-events.handler.js';

/**
 * A direct chat is titled with the other person's name: when someone renames themself, the people
 * they have direct chats with get `chat_updated` with the new title, as after a group's rename.
 * (Member names in groups are read with the chat: GET /chats/:id.)
 */
@EventsHandler(UserRenamedEvent)
export class DirectTitlesToSockets implements IEventHandler<UserRenamedEvent> {
  constructor(
    private readonly realtime: RealtimeService,
    private readonly chats: ChatRepository,
  ) {}

  async handle({ userId, name }: UserRenamedEvent): Promise<void> {
    for (const { chat, peerId } of await this.chats.directChatsOf(userId)) {
      // Behind the chat's held messages, like every frame about a chat; no version: a direct
      // chat's never changes, and only the newest name is read back by GET /chats anyway.
      await this.realtime.send([peerId], { type: 'chat_updated', chat: directFrame(chat, name) }, { behind: chat.id });
    }
  }
}
