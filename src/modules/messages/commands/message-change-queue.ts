import { Injectable } from '@nestjs/common';
import { KeyedSequencer } from '../../../common/concurrency/keyed-sequencer.js';

/**
 * Edits and deletes of one chat run one at a time on this instance, each from its checks to its
 * announcement, so members hear of them in the order they were stored: an edit stored just before
 * a delete could otherwise be announced after it and bring the deleted text back.
 */
@Injectable()
export class MessageChangeQueue {
  private readonly chats = new KeyedSequencer();

  run<T>(chatId: string, change: () => Promise<T>): Promise<T> {
    return this.chats.run(chatId, change);
  }
}
