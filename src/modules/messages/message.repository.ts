import { ConflictError } from '../../common/errors/domain-error.js';
import { chatNotFound } from '../chats/chat-access.js';
import type { ActorCheck } from '../chats/chat.repository.js';
import type { Message } from './domain/message.js';

export interface AppendInput {
  id: string;
  chatId: string;
  senderId: string;
  clientId: string | null;
  text: string;
}

export interface AppendResult {
  message: Message;
  /** False when (senderId, clientId) was already stored: `message` is the original and nothing changed. */
  created: boolean;
  /** Members of the chat when the message was stored. */
  memberIds: string[];
  /** The sender's read pointer before this send moved it (for a repeat: unchanged, undefined). */
  previousReadSeq?: number;
}

export interface ReadPointerMove {
  from: number;
  to: number;
  memberIds: string[];
}

export interface SeenNotice {
  senderId: string;
  seq: number;
}

export type HistoryQuery = { limit: number; before?: number; after?: number };

/**
 * Where messages and read pointers live. One adapter per store; every adapter passes
 * messageRepositoryContract (test/contracts/message-repository.contract.ts). Each method is atomic on its own.
 */
export abstract class MessageRepository {
  /**
   * Stores a message with the chat's next seq, in one transaction with moving the sender's read
   * pointer. Throws CHAT_NOT_FOUND when the sender is not a member, CLIENT_ID_REUSED when the
   * sender used the clientId in another chat. Sends to one chat are stored in the order of the
   * calls made on this instance, even when a call comes before the previous one has settled:
   * a connection's pipelined sends rely on it.
   */
  abstract append(input: AppendInput): Promise<AppendResult>;
  abstract findById(chatId: string, id: string): Promise<Message | undefined>;
  /**
   * Sets the text (editedAt moves on); 409 MESSAGE_DELETED when the message is deleted. `check`
   * runs on the actor's membership as it is when the change is written, as a chat change's does
   * (ChatRepository's ActorCheck): a removal or demotion that committed after the caller's own
   * checks refuses the change.
   */
  abstract editText(chatId: string, id: string, text: string, check: ActorCheck): Promise<Message>;
  /** Clears the text and sets deletedAt, once `check` passes (as editText's); undefined when it was already deleted. */
  abstract tombstone(chatId: string, id: string, check: ActorCheck): Promise<Message | undefined>;
  /** Newest first (or `before` a seq); with `after`, oldest first from that seq on. */
  abstract history(chatId: string, query: HistoryQuery): Promise<Message[]>;
  abstract page(chatId: string, limit: number, offset: number): Promise<{ items: Message[]; total: number }>;
  /** Moves a member's read pointer forward to `seq` (never back); undefined when it did not move. */
  abstract moveReadPointer(chatId: string, userId: string, seq: number): Promise<ReadPointerMove | undefined>;
  /** Members other than the sender whose read pointer has reached the message. */
  abstract readers(message: Message): Promise<Array<{ userId: string; readAt: Date }>>;
  /**
   * After a reader's pointer moved over (from, to]: for each sender of those messages whom every
   * other member has now read up to, the highest such seq, each reported once ever.
   */
  abstract claimSeenNotices(chatId: string, readerId: string, from: number, to: number): Promise<SeenNotice[]>;
  abstract memberIds(chatId: string): Promise<string[]>;

  /**
   * The answer to a send whose (sender, clientId) is already stored: the original, unless it was
   * sent to another chat, which is the client's mistake. Shared by every adapter.
   */
  protected async repeat(original: Message, input: AppendInput): Promise<AppendResult> {
    if (original.chatId !== input.chatId) {
      throw new ConflictError(
        'CLIENT_ID_REUSED',
        'You already used this clientId for a message in another chat; use a new UUID per message.',
      );
    }
    return { message: original, created: false, memberIds: await this.memberIds(input.chatId) };
  }

  /**
   * The answer to a send the store left out: its sender is not a member (any more), or its
   * clientId is stored. A member gets the original for a repeat, or CLIENT_ID_REUSED for a
   * clientId of another chat (repeat); anyone else CHAT_NOT_FOUND, as for any chat they are not
   * in, whatever the clientId: even a retry of their own send from before they left learns
   * nothing of the chat since (whether it still exists, or what became of the message). Shared
   * by every adapter.
   */
  protected async notStored(input: AppendInput): Promise<AppendResult> {
    if (input.clientId && (await this.memberIds(input.chatId)).includes(input.senderId)) {
      const original = await this.findByClientId(input.senderId, input.clientId);
      if (original) return this.repeat(original, input);
    }
    throw chatNotFound();
  }

  /** The sender's message stored with this clientId, in whichever chat. */
  protected abstract findByClientId(senderId: string, clientId: string): Promise<Message | undefined>;
}
