import type { OnModuleDestroy } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { DomainError, RateLimitedError } from '../../common/errors/domain-error.js';
import { TokenBuckets } from '../../common/rate-limit/token-buckets.js';
import { UserRateLimiter } from '../../common/rate-limit/user-rate-limiter.js';
import { chatNotFound } from '../chats/chat-access.js';
import { ChatRepository } from '../chats/chat.repository.js';
import { CurrentFrame, CurrentSocketUser, RealtimeGateway, type SocketUser } from '../../realtime/realtime-gateway.decorator.js';
import { type Connection, connectionOf, type FrameContext } from '../../realtime/connection.js';
import { errorFrame } from '../../realtime/frames.js';
import { RealtimeService } from '../../realtime/realtime.service.js';
import type { ServerEvent } from '../../realtime/server-events.js';
import type { CatchUp } from '../../realtime/stream-tracker.js';
import { MarkReadCommand } from './commands/mark-read.command.js';
import { SendMessageCommand, type SendMessageResult } from './commands/send-message.command.js';
import { toMessageDto } from './dto/message.dto.js';
import { MarkReadFrame, SendMessageFrame, SyncFrame, TypingFrame } from './dto/message-frames.dto.js';
import { MessageRepository } from './message.repository.js';
import { MessagesService } from './messages.service.js';

const TYPING_BURST = 5;
const TYPING_PER_SECOND = 2;
/** A sync waits for the socket to drain below this before writing the next page. */
const SYNC_HIGH_WATER = 256 * 1024;
/** Small enough that a page of the longest messages (~4 KiB each) stays well under the slow-consumer bound. */
const SYNC_PAGE = 50;
const SYNC_DRAIN_TIMEOUT_MS = 30_000;

/**
 * The message frames of the one `/ws` endpoint. Sends and reads go through the same commands as
 * REST, so both behave identically; what those commands publish reaches the members through
 * message-events.handler.ts.
 */
@RealtimeGateway()
export class MessagesGateway implements OnModuleDestroy {
  /** Typing tokens per user (per connection, more sockets would buy more); full buckets are swept. */
  private readonly typingBuckets = new TokenBuckets(TYPING_BURST, TYPING_PER_SECOND);
  private readonly sweeper = setInterval(() => this.typingBuckets.sweep(), 60_000).unref();

  constructor(
    private readonly commands: CommandBus,
    private readonly messages: MessagesService,
    private readonly chats: ChatRepository,
    private readonly store: MessageRepository,
    private readonly realtime: RealtimeService,
    private readonly limits: UserRateLimiter,
  ) {}

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Pipelined: the connection's next frame starts as soon as this send is queued for storage (each chat's acks still come in order). */
  @SubscribeMessage('send_message')
  async send(
    @CurrentSocketUser() user: SocketUser,
    @MessageBody() frame: SendMessageFrame,
    @CurrentFrame() context: FrameContext,
  ): Promise<ServerEvent<'message_ack'>> {
    this.limits.consume('messages', user.userId);
    // Ids lower-cased as REST's are (uuidParam): a chat's ordering queue, catch-up hold and events
    // are keyed by its id as a string. The ack echoes the clientId as the client wrote it.
    const { message, created } = await this.commands.execute<SendMessageCommand, SendMessageResult>(
      new SendMessageCommand(user.userId, frame.chatId.toLowerCase(), frame.text, frame.clientId.toLowerCase(), context.admitNext),
    );
    if (!created) this.limits.giveBack('messages', user.userId); // a repeat of a stored send costs nothing
    return { type: 'message_ack', clientId: frame.clientId, message: toMessageDto(message) };
  }

  @SubscribeMessage('typing')
  async typing(@CurrentSocketUser() user: SocketUser, @MessageBody() frame: TypingFrame): Promise<void> {
    this.takeTypingToken(user.userId);
    const chatId = frame.chatId.toLowerCase();
    // One read of the member ids (no roles, no order) both checks the typist and lists the others.
    const memberIds = await this.store.memberIds(chatId);
    if (!memberIds.includes(user.userId)) throw chatNotFound();
    const others = memberIds.filter((id) => id !== user.userId);
    // For members only: one that reaches someone after they were told they left is dropped.
    await this.realtime.send(
      others,
      { type: 'typing', chatId, userId: user.userId, isTyping: frame.isTyping },
      { behind: chatId, whileIn: true },
    );
  }

  @SubscribeMessage('mark_read')
  async markRead(@CurrentSocketUser() user: SocketUser, @MessageBody() frame: MarkReadFrame): Promise<void> {
    this.limits.consume('reads', user.userId);
    await this.commands.execute(new MarkReadCommand(user.userId, frame.chatId.toLowerCase(), frame.seq));
  }

  /**
   * Catch-up after a reconnect: every message after each given seq, oldest first, as new_message
   * frames on this connection, then `synced` with the last seq sent per chat. A chat the caller
   * is not (or no longer) a member of gets an error frame (under the sync frame's id, with its
   * chatId) and is left out of `synced`.
   */
  @SubscribeMessage('sync')
  async sync(
    @CurrentSocketUser() user: SocketUser,
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() frame: SyncFrame,
    @CurrentFrame() context: FrameContext,
  ): Promise<ServerEvent<'synced'>> {
    const connection = connectionOf(socket);
    const synced: Record<string, number> = {};
    if (!connection) return { type: 'synced', chats: synced };
    const asked = askedChats(frame);
    // Each chat named costs a membership check and a history read: a user gets so many a minute.
    try {
      this.limits.consume('sync', user.userId, asked.size);
    } catch (refused) {
      connection.releaseStreams(); // what the connection's first hold kept back goes now
      throw refused;
    }
    // Every chat of the frame holds its live new_message frames from now until its own history
    // is out, and a held one the history already wrote is not written again: each seq goes out
    // once, in order. (Begun one by one, a chat still waiting its turn would let live frames
    // overtake its history once the connection's first hold ended.)
    const chats: SyncedChat[] = [...asked].map(([chatId, lastSeq]) => ({ chatId, lastSeq, catchUp: connection.streams.begin(chatId) }));
    // Cut short (the socket went, or an unexpected error), the chats not reached stop holding:
    // from the first (-1) until the loop starts.
    let next = -1;
    try {
      // One query says which chats the caller is in and where each stands, so a chat with nothing
      // new costs nothing more (a reconnect names every chat). Read after the holds began: a
      // message stored after it comes live, held till its turn.
      const newest = await this.chats.lastSeqsOfMember(
        user.userId,
        chats.map((c) => c.chatId),
      );
      for (next = 0; next < chats.length; next++) {
        const chat = chats[next];
        const open = await this.syncChat(user.userId, connection, chat, newest.get(chat.chatId), synced, context.id);
        if (!open) return { type: 'synced', chats: synced };
      }
    } finally {
      for (const { catchUp } of chats.slice(next + 1)) catchUp.end();
    }
    connection.releaseStreams();
    return { type: 'synced', chats: synced };
  }

  /**
   * One chat of a sync: every message after `lastSeq` (`last` is the chat's newest seq, undefined
   * when the caller is not a member), then its entry in `synced`; a refusal becomes an error frame
   * with its chatId instead. The chat's hold ends either way. False when the connection went (gone,
   * or closed as slow) before the history was out.
   */
  private async syncChat(
    userId: string,
    connection: Connection,
    { chatId, lastSeq, catchUp }: SyncedChat,
    last: number | undefined,
    synced: Record<string, number>,
    replyTo: FrameContext['id'],
  ): Promise<boolean> {
    try {
      if (last === undefined) throw chatNotFound();
      if (last <= lastSeq) {
        // Nothing new: up to the chat's last seq at most, whatever a confused client claims,
        // so its live messages are not taken for ones it has; `synced` tells it so.
        catchUp.through(last);
        synced[chatId] = last;
        return true;
      }
      let upTo = lastSeq;
      for await (const page of this.messages.since(userId, chatId, lastSeq, SYNC_PAGE)) {
        for (const message of page) {
          // Everything asked for, even what this connection had live before: the client says
          // what it has. Live frames of the catch-up's own time wait, and skip what it wrote.
          catchUp.sent(message.seq);
          connection.sendRaw(JSON.stringify({ type: 'new_message', message: toMessageDto(message) }));
        }
        upTo = page[page.length - 1].seq;
        if (!(await connection.drained(SYNC_HIGH_WATER, SYNC_DRAIN_TIMEOUT_MS))) return false; // gone or closed as slow
      }
      // The client has everything up to here: it said so up to lastSeq, and this wrote the rest.
      catchUp.through(upTo);
      synced[chatId] = upTo;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // What the chat held back (live frames from while the user was still in it) goes first:
      // the error ends the chat's part of the sync, and the client drops the chat on it.
      catchUp.end();
      connection.send(Object.assign(errorFrame(error), { chatId }), replyTo);
    } finally {
      catchUp.end();
    }
    return true;
  }

  private takeTypingToken(userId: string): void {
    const wait = this.typingBuckets.take(userId);
    if (wait !== undefined)
      throw new RateLimitedError(wait, 'RATE_LIMITED', 'Too many typing frames; send one when typing starts or stops.');
  }
}

/** A chat a sync frame names, holding its live frames from the start of the sync until its history is out. */
interface SyncedChat {
  chatId: string;
  lastSeq: number;
  catchUp: CatchUp;
}

/**
 * The chats a sync frame names, with the last seq the client has of each. Keyed by the lower-cased
 * id, as live frames are; a chat written in both cases counts once, from the lower lastSeq.
 */
function askedChats(frame: SyncFrame): Map<string, number> {
  const asked = new Map<string, number>();
  for (const [id, lastSeq] of Object.entries(frame.chats)) {
    const chatId = id.toLowerCase();
    asked.set(chatId, Math.min(lastSeq, asked.get(chatId) ?? lastSeq));
  }
  return asked;
}
