import { Injectable } from '@nestjs/common';
import { MissedMessages } from '../../../realtime/missed-messages.js';
import { toMessageDto } from '../dto/message.dto.js';
import { MessagesService } from '../messages.service.js';

/** A gap longer than this is not read back live: the client's `sync` after a reconnect is the way for that much. */
const MAX_GAP = 500;
const PAGE = 100;

/** Reads a gap in a connection's live messages from the store, with the membership check of history. */
@Injectable()
export class MissedMessagesReader extends MissedMessages {
  constructor(private readonly messages: MessagesService) {
    super();
  }

  async read(userId: string, chatId: string, afterSeq: number, upToSeq: number): Promise<Array<{ seq: number; frame: string }>> {
    const frames: Array<{ seq: number; frame: string }> = [];
    if (upToSeq - afterSeq > MAX_GAP) return frames;
    for await (const page of this.messages.since(userId, chatId, afterSeq, PAGE)) {
      for (const message of page) {
        if (message.seq > upToSeq) return frames;
        frames.push({ seq: message.seq, frame: JSON.stringify({ type: 'new_message', message: toMessageDto(message) }) });
      }
    }
    return frames;
  }
}
