import { Injectable } from '@nestjs/common';
import { MissedMessages } from '../../../realtime/missed-messages.js';
import { chatNotFound } from '../../chats/chat-access.js';
import { toMessageDto } from '../dto/message.dto.js';
import { MessageRepository } from '../message.repository.js';

/** A gap longer than this is not read back live: the client's `sync` after a reconnect is the way for that much. */
const MAX_GAP = 500;

/**
 * Reads a gap in a connection's live messages from the store, for members only.
 *
 * One slow message leaves the same gap on every connection of its chat on this instance, and
 * their waits end together: identical reads in flight are shared, so a chat of a thousand members
 * costs two queries (who is a member now, and the messages), not two thousand.
 */
@Injectable()
export class MissedMessagesReader extends MissedMessages {
  private readonly members = new Shared<Set<string>>();
  private readonly ranges = new Shared<Array<{ seq: number; frame: string }>>();

  constructor(private readonly messages: MessageRepository) {
    super();
  }

  async read(userId: string, chatId: string, afterSeq: number, upToSeq: number): Promise<Array<{ seq: number; frame: string }>> {
    if (upToSeq <= afterSeq || upToSeq - afterSeq > MAX_GAP) return [];
    const members = await this.members.get(chatId, async () => new Set(await this.messages.memberIds(chatId)));
    if (!members.has(userId)) throw chatNotFound();
    return this.ranges.get(`${chatId}:${afterSeq}:${upToSeq}`, async () => {
      const found = await this.messages.history(chatId, { after: afterSeq, limit: upToSeq - afterSeq });
      return found
        .filter((m) => m.seq <= upToSeq)
        .map((m) => ({ seq: m.seq, frame: JSON.stringify({ type: 'new_message', message: toMessageDto(m) }) }));
    });
  }
}

/** One promise per key while it is pending: callers asking meanwhile share it; the next call after it settles asks afresh. */
class Shared<T> {
  private readonly pending = new Map<string, Promise<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    let promise = this.pending.get(key);
    if (!promise) {
      promise = load().finally(() => this.pending.delete(key));
      this.pending.set(key, promise);
    }
    return promise;
  }
}
