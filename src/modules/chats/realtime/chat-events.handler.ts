import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { RealtimeService } from '../../../realtime/realtime.service.js';
import type { ChatFrame } from '../../../realtime/server-events.js';
import { ChatsService } from '../chats.service.js';
import type { Chat } from '../domain/chat.js';
import { ChatCreatedEvent, ChatDeletedEvent, ChatUpdatedEvent, MemberRemovedEvent, MembersAddedEvent } from '../events/chat.events.js';

/** What chat_updated frames tell of, in their version (members' frames tell of the member: their user id). */
const CHAT_ITSELF = 'chat';

type ChatEvent = ChatCreatedEvent | ChatUpdatedEvent | ChatDeletedEvent | MembersAddedEvent | MemberRemovedEvent;

/**
 * Turns committed chat events into frames for every connection of every member. chat_created
 * carries the chat as each member's list shows it; the others carry what changed, and clients
 * fetch GET /chats/:id for the rest (members, roles).
 */
@EventsHandler(ChatCreatedEvent, ChatUpdatedEvent, ChatDeletedEvent, MembersAddedEvent, MemberRemovedEvent)
export class ChatEventsToSockets implements IEventHandler<ChatEvent> {
  constructor(
    private readonly realtime: RealtimeService,
    private readonly reads: ChatsService,
  ) {}

  async handle(event: ChatEvent): Promise<void> {
    if (event instanceof ChatCreatedEvent) {
      await this.announce(event.chat, event.memberIds);
    } else if (event instanceof ChatUpdatedEvent) {
      // With the chat's version: a connection drops one that comes after a later one (two renames
      // through two instances, the first one's frame crossing Redis last).
      await this.realtime.send(
        event.memberIds,
        { type: 'chat_updated', chat: groupFrame(event.chat, event.memberIds.length) },
        { behind: event.chat.id, version: { of: CHAT_ITSELF, n: event.chat.version } },
      );
    } else if (event instanceof ChatDeletedEvent) {
      await this.realtime.send(
        event.memberIds,
        { type: 'chat_deleted', chatId: event.chatId },
        { behind: event.chatId, endsStream: true, streamGone: true },
      );
    } else if (event instanceof MembersAddedEvent) {
      // With its place in the chat, as member_removed has: a member removed and added back hears
      // of the two in that order, and everyone hears of an addition after the messages before it.
      // The one added comes into the chat's stream there: its next messages reach them in order,
      // and wait for this frame rather than overtake it (on a connection that had left the chat).
      // Each joiner's own frame goes first, so that none waits behind the others' announcements.
      // Every frame about a member carries the chat's version: one that comes after a later one
      // about them (removed again meanwhile, through another instance) is dropped, for the others
      // and for the member themself (who would believe they had left).
      const place = (userId: string) => ({ behind: event.chatId, behindSeq: event.lastSeq, version: { of: userId, n: event.version } });
      const frame = (userId: string) => ({ type: 'member_added', chatId: event.chatId, userId, role: 'member' }) as const;
      for (const userId of event.addedIds)
        await this.realtime.send([userId], frame(userId), Object.assign({ startsStream: true }, place(userId)));
      for (const userId of event.addedIds) {
        await this.realtime.send(
          event.memberIds.filter((id) => id !== userId),
          frame(userId),
          place(userId),
        );
      }
    } else {
      const frame = { type: 'member_removed', chatId: event.chatId, userId: event.removedId } as const;
      const place = { behind: event.chatId, behindSeq: event.lastSeq, version: { of: event.removedId, n: event.version } };
      await this.realtime.send(event.memberIds, frame, place);
      // For the one removed the chat's stream ends here: added back later, its messages wait for
      // their member_added, and then go on from where they came back, with no gap awaited.
      await this.realtime.send([event.removedId], frame, Object.assign({ endsStream: true }, place));
    }
  }

  /**
   * chat_created, with the chat as each member's list shows it (a direct chat is titled, for each
   * of its two people, with the other's name). Its members come into its stream at its start, so
   * its first messages reach them in seq order.
   */
  private async announce(chat: Chat, memberIds: string[]): Promise<void> {
    const place = { behind: chat.id, behindSeq: 0, startsStream: true };
    const items = await this.reads.newItems(chat, memberIds);
    if (chat.type === 'group') {
      await this.realtime.send(memberIds, { type: 'chat_created', chat: items.get(memberIds[0])! }, place);
      return;
    }
    for (const member of memberIds) await this.realtime.send([member], { type: 'chat_created', chat: items.get(member)! }, place);
  }
}

function groupFrame(chat: Chat, memberCount: number): ChatFrame {
  return { id: chat.id, type: chat.type, title: chat.title, memberCount, updatedAt: chat.updatedAt.toISOString() };
}
