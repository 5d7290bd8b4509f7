import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { RealtimeService } from '../../../realtime/realtime.service.js';
import { toMessageDto } from '../dto/message.dto.js';
import {
  ChatReadEvent,
  MessageDeletedEvent,
  MessageEditedEvent,
  MessageRepeatedEvent,
  MessageSeenEvent,
  MessageSentEvent,
} from '../events/message.events.js';

type MessageEvent = MessageSentEvent | MessageRepeatedEvent | MessageEditedEvent | MessageDeletedEvent | ChatReadEvent | MessageSeenEvent;

/**
 * Turns committed message events into frames for every connection of every member. The events
 * carry the members at commit time, so delivery needs no query and skips removed members.
 */
@EventsHandler(MessageSentEvent, MessageRepeatedEvent, MessageEditedEvent, MessageDeletedEvent, ChatReadEvent, MessageSeenEvent)
export class MessageEventsToSockets implements IEventHandler<MessageEvent> {
  constructor(private readonly realtime: RealtimeService) {}

  async handle(event: MessageEvent): Promise<void> {
    if (event instanceof MessageSentEvent) {
      await this.realtime.send(
        event.memberIds,
        { type: 'new_message', message: toMessageDto(event.message) },
        { stream: { id: event.message.chatId, seq: event.message.seq } },
      );
    } else if (event instanceof MessageRepeatedEvent) {
      // Written only where a connection's stream stands right before it: those that had it, or
      // never had the chat, or are past it, ignore it (see StreamTracker), so a repeat changes
      // nothing for a client that got the message the first time.
      await this.realtime.send(
        event.memberIds,
        { type: 'new_message', message: toMessageDto(event.message) },
        { stream: { id: event.message.chatId, seq: event.message.seq, repair: true } },
      );
    } else if (event instanceof MessageEditedEvent) {
      // Edits and deletes wait behind new_message frames a connection is holding back (see
      // StreamTracker), so they never arrive before the message they change.
      await this.realtime.send(
        event.memberIds,
        { type: 'message_updated', message: toMessageDto(event.message) },
        { after: { id: event.message.chatId, seq: event.message.seq } },
      );
    } else if (event instanceof MessageDeletedEvent) {
      await this.realtime.send(
        event.memberIds,
        { type: 'message_deleted', chatId: event.chatId, id: event.messageId, seq: event.seq },
        { after: { id: event.chatId, seq: event.seq } },
      );
    } else if (event instanceof ChatReadEvent) {
      await this.realtime.send(
        event.memberIds,
        { type: 'read', chatId: event.chatId, userId: event.userId, seq: event.seq },
        { behind: event.chatId, whileIn: true },
      );
    } else {
      await this.realtime.send(
        [event.senderId],
        { type: 'message_seen', chatId: event.chatId, seq: event.seq },
        { behind: event.chatId, whileIn: true },
      );
    }
  }
}
