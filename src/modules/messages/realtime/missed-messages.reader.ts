import { Injectable } from '@nestjs/common';
import { SharedPromises } from '../../../common/concurrency/shared-promises.js';
import { MissedMessages } from '../../../realtime/missed-messages.js';
import { GAP_READ_MAX } from '../../../realtime/stream-tracker.js';
import { chatNotFound } from '../../chats/chat-access.js';
import { toMessageDto } from '../dto/message.dto.js';
import { MessageRepository } from '../message.repository.js';

/** More than the tracker asks at once (GAP_READ_MAX): a larger ask is refused rather than trusted. */
const MAX_GAP = GAP_READ_MAX;
/**
 * Distinct reads in flight on this instance beyond which a new one is not made (the gap then
 * waits once more and its frames go out past it): a Redis that slows down for every chat at once
 * must not turn into as many queries.
 */
const MAX_READS_IN_FLIGHT = 32;

/**
 * Reads a gap in a connection's live messages from the store, for members only.
 *
 * One slow message leaves the same gap on every connection of its chat on this instance, and
 * their waits end together: identical reads in flight are shared, so a chat of a thousand members
 * costs two queries (who is a member now, and the messages), not two thousand.
 */
@Injectable()
export class MissedMessagesReader extends MissedMessages {
  private readonly members = new SharedPromises<Set<string>>();
  private readonly ranges = new SharedPromises<Array<{ seq: number; frame: string }>>();

  constructor(private readonly messages: MessageRepository) {
    super();
  }

  async read(userId: string, chatId: string, afterSeq: number, upToSeq: number): Promise<Array<{ seq: number; frame: string }>> {
    if (upToSeq <= afterSeq || upToSeq - afterSeq > MAX_GAP) return [];
    const members = await this.members.get(chatId, async () => new Set(await this.messages.memberIds(chatId)));
    if (!members.has(userId)) throw chatNotFound();
    const key = `${chatId}:${afterSeq}:${upToSeq}`;
    if (!this.ranges.has(key) && this.ranges.size >= MAX_READS_IN_FLIGHT) return [];
    return this.ranges.get(key, async () => {
      const found = await this.messages.history(chatId, { after: afterSeq, limit: upToSeq - afterSeq });
      return found
        .filter((m) => m.seq <= upToSeq)
        .map((m) => ({ seq: m.seq, frame: JSON.stringify({ type: 'new_message', message: toMessageDto(m) }) }));
    });
  }
}
