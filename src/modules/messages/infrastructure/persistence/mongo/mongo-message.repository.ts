import type { ClientSession, Connection, Model } from 'mongoose';
import { KeyedSequencer } from '../../../../../common/concurrency/keyed-sequencer.js';
import { ConflictError } from '../../../../../common/errors/domain-error.js';
import { createIndexes } from '../../../../../database/mongo/models.js';
import { isDuplicateKey } from '../../../../../database/mongo/mongo-errors.js';
import { inTransaction } from '../../../../../database/mongo/transactions.js';
import {
  type ChatRecord,
  chatModels,
  type MemberRecord,
  memberKey,
} from '../../../../chats/infrastructure/persistence/mongo/chat.schema.js';
import { toMember } from '../../../../chats/infrastructure/persistence/mongo/chat.mapper.js';
import type { ActorCheck } from '../../../../chats/chat.repository.js';
import type { Message } from '../../../domain/message.js';
import {
  type AppendInput,
  type AppendResult,
  type HistoryQuery,
  MessageRepository,
  type ReadPointerMove,
  type SeenNotice,
} from '../../../message.repository.js';
import { toMessage } from './message.mapper.js';
import { MESSAGES_SENDER_CLIENT, type MessageRecord, messageModel } from './message.schema.js';

/** Messages and read pointers in MongoDB, beside the chats of MongoChatRepository. */
export class MongoMessageRepository extends MessageRepository {
  private readonly perChat = new KeyedSequencer();

  private constructor(
    private readonly connection: Connection,
    private readonly messages: Model<MessageRecord>,
    private readonly chats: Model<ChatRecord>,
    private readonly memberships: Model<MemberRecord>,
  ) {
    super();
  }

  /** Registers the models and creates the message indexes, awaited: the unique keys exist before the first send. */
  static async open(connection: Connection): Promise<MongoMessageRepository> {
    const messages = messageModel(connection);
    await createIndexes(messages);
    const { chats, members } = chatModels(connection);
    return new MongoMessageRepository(connection, messages, chats, members);
  }

  /** Sends to one chat one at a time on this instance, so they are stored in the order of the calls. */
  append(input: AppendInput): Promise<AppendResult> {
    return this.perChat.run(input.chatId, () => this.appendNow(input));
  }

  private async appendNow(input: AppendInput): Promise<AppendResult> {
    let stored: AppendResult | undefined;
    try {
      // One transaction: take the next seq, store the message, move the sender's pointer. The
      // increment comes first, so concurrent senders conflict there and the driver retries the
      // losers, which then take the following seq; a repeated clientId fails the insert, which
      // aborts the transaction and with it the increment: seqs come out 1, 2, 3, … with no gap.
      stored = await inTransaction(this.connection, async (session) => {
        const now = new Date();
        const chat = await this.chats
          .findOneAndUpdate(
            { _id: input.chatId, memberIds: input.senderId },
            { $inc: { lastSeq: 1 }, $max: { lastActivityAt: now } },
            { session, returnDocument: 'after', projection: { lastSeq: 1, memberIds: 1 } },
          )
          .lean<ChatRecord>();
        if (!chat) return undefined;
        const record: MessageRecord = {
          _id: input.id,
          chatId: input.chatId,
          seq: chat.lastSeq,
          senderId: input.senderId,
          clientId: input.clientId,
          text: input.text,
          createdAt: now,
          editedAt: null,
          deletedAt: null,
        };
        await this.messages.insertMany([record], { session });
        const pointer = await this.memberships
          .findOneAndUpdate(
            { _id: memberKey(input.chatId, input.senderId) },
            { $max: { lastReadSeq: record.seq }, $set: { lastReadAt: now } },
            { session, returnDocument: 'before', projection: { lastReadSeq: 1 } },
          )
          .lean<MemberRecord>();
        if (!pointer) throw new Error(`Chat ${input.chatId} lists ${input.senderId} as a member without a membership record.`);
        return { message: toMessage(record), created: true, memberIds: chat.memberIds, previousReadSeq: pointer.lastReadSeq };
      });
    } catch (error) {
      if (input.clientId && isDuplicateKey(error, MESSAGES_SENDER_CLIENT)) {
        // A repeat (or a lost race with the same send): the stored message is the answer.
        const original = await this.findByClientId(input.senderId, input.clientId);
        if (original) return this.repeat(original, input);
      }
      throw error;
    }
    return stored ?? this.notStored(input);
  }

  async findById(chatId: string, id: string): Promise<Message | undefined> {
    const row = await this.messages.findOne({ _id: id, chatId }).lean<MessageRecord>();
    return row ? toMessage(row) : undefined;
  }

  async editText(chatId: string, id: string, text: string, check: ActorCheck): Promise<Message> {
    const row = await inTransaction(this.connection, async (session) => {
      await this.holdMembership(chatId, check, session);
      // editedAt only moves forward, by at least a millisecond per edit, whatever the instances'
      // clocks say: clients keep the edit with the later editedAt when two arrive out of order.
      // (An update pipeline, so the text goes in as a $literal: one starting with $ is not a field path.)
      return this.messages
        .findOneAndUpdate(
          { _id: id, chatId, deletedAt: null },
          [{ $set: { text: { $literal: text }, editedAt: { $max: ['$$NOW', { $add: ['$editedAt', 1] }] } } }],
          { session, returnDocument: 'after', updatePipeline: true },
        )
        .lean<MessageRecord>();
    });
    if (!row) throw new ConflictError('MESSAGE_DELETED', 'This message was deleted.');
    return toMessage(row);
  }

  async tombstone(chatId: string, id: string, check: ActorCheck): Promise<Message | undefined> {
    const row = await inTransaction(this.connection, async (session) => {
      await this.holdMembership(chatId, check, session);
      return this.messages
        .findOneAndUpdate(
          { _id: id, chatId, deletedAt: null },
          { $set: { text: null, deletedAt: new Date() } },
          { session, returnDocument: 'after' },
        )
        .lean<MessageRecord>();
    });
    return row ? toMessage(row) : undefined;
  }

  /**
   * A message change's permission check, on the actor's membership record, which it writes (a
   * counter that means nothing else): a removal, a role change or the chat's deletion writes that
   * record too, so one that commits meanwhile conflicts with this transaction, and the retry checks
   * what it left. Sends to the chat (which write the chat record) do not conflict with it; only the
   * actor's own (it moves their read pointer).
   */
  private async holdMembership(chatId: string, check: ActorCheck, session: ClientSession): Promise<void> {
    const record = await this.memberships
      .findOneAndUpdate({ _id: memberKey(chatId, check.actorId) }, { $inc: { claims: 1 } }, { session, returnDocument: 'after' })
      .lean<MemberRecord>();
    check.allow(record ? toMember(record) : undefined);
  }

  async history(chatId: string, query: HistoryQuery): Promise<Message[]> {
    const rows =
      query.after !== undefined
        ? await this.messages
            .find({ chatId, seq: { $gt: query.after } })
            .sort({ seq: 1 })
            .limit(query.limit)
            .lean<MessageRecord[]>()
        : await this.messages
            .find(query.before !== undefined ? { chatId, seq: { $lt: query.before } } : { chatId })
            .sort({ seq: -1 })
            .limit(query.limit)
            .lean<MessageRecord[]>();
    return rows.map(toMessage);
  }

  async page(chatId: string, limit: number, offset: number): Promise<{ items: Message[]; total: number }> {
    // seq has no gaps, so the newest seq is the count, and the message `offset` places below the
    // newest has seq total - offset: an index range, where skip() would walk every entry above it.
    const chat = await this.chats.findById(chatId, { lastSeq: 1 }).lean<ChatRecord>();
    const total = chat?.lastSeq ?? 0;
    if (offset >= total) return { items: [], total };
    const rows = await this.messages
      .find({ chatId, seq: { $lte: total - offset } })
      .sort({ seq: -1 })
      .limit(limit)
      .lean<MessageRecord[]>();
    return { items: rows.map(toMessage), total };
  }

  async moveReadPointer(chatId: string, userId: string, seq: number): Promise<ReadPointerMove | undefined> {
    // The condition makes it forward-only and atomic: of two racing moves, each moves only past the other.
    const before = await this.memberships
      .findOneAndUpdate(
        { _id: memberKey(chatId, userId), lastReadSeq: { $lt: seq } },
        { $set: { lastReadSeq: seq, lastReadAt: new Date() } },
        { returnDocument: 'before', projection: { lastReadSeq: 1 } },
      )
      .lean<MemberRecord>();
    if (!before) return undefined;
    return { from: before.lastReadSeq, to: seq, memberIds: await this.memberIds(chatId) };
  }

  async readers(message: Message): Promise<Array<{ userId: string; readAt: Date }>> {
    const rows = await this.memberships
      .find({ chatId: message.chatId, userId: { $ne: message.senderId }, lastReadSeq: { $gte: message.seq } })
      .lean<MemberRecord[]>();
    // Those who joined after the message were never sent it.
    return rows
      .filter((r) => (r.joinedSeq ?? 0) < message.seq)
      .map((r) => ({ userId: r.userId, readAt: r.lastReadAt ?? r.joinedAt }))
      .sort((a, b) => a.readAt.getTime() - b.readAt.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  }

  async claimSeenNotices(chatId: string, readerId: string, from: number, to: number): Promise<SeenNotice[]> {
    const senders = (await this.messages.distinct('senderId', {
      chatId,
      seq: { $gt: from, $lte: to },
      senderId: { $ne: readerId },
    })) as string[];
    if (senders.length === 0) return [];
    // How far everyone but a sender has read is the lowest pointer that is not the sender's own,
    // which is one of the two lowest.
    const lowest = await this.memberships
      .find({ chatId }, { userId: 1, lastReadSeq: 1 })
      .sort({ lastReadSeq: 1 })
      .limit(2)
      .lean<MemberRecord[]>();
    const notices: SeenNotice[] = [];
    for (const senderId of senders) {
      const upto = lowest.find((m) => m.userId !== senderId)?.lastReadSeq;
      if (upto === undefined) continue;
      const top = await this.messages
        .findOne({ chatId, senderId, seq: { $lte: upto } }, { seq: 1 })
        .sort({ seq: -1 })
        .lean<MessageRecord>();
      if (!top) continue;
      // Someone who was there before it (readers() leaves out those who came in after it).
      const witness = await this.memberships.exists({
        chatId,
        userId: { $ne: senderId },
        $or: [{ joinedSeq: { $lt: top.seq } }, { joinedSeq: { $exists: false } }],
      });
      if (!witness) continue;
      // The claim: only the update that raises seenNotifiedSeq reports it, so each notice goes out once.
      const { modifiedCount } = await this.memberships.updateOne(
        { _id: memberKey(chatId, senderId), seenNotifiedSeq: { $lt: top.seq } },
        { $set: { seenNotifiedSeq: top.seq } },
      );
      if (modifiedCount === 1) notices.push({ senderId, seq: top.seq });
    }
    return notices;
  }

  async memberIds(chatId: string): Promise<string[]> {
    const chat = await this.chats.findById(chatId, { memberIds: 1 }).lean<ChatRecord>();
    return chat?.memberIds ?? [];
  }

  protected async findByClientId(senderId: string, clientId: string): Promise<Message | undefined> {
    // `$type` repeats the unique index's partial filter, without which MongoDB does not use that
    // index and reads every message (an equality on a string does not imply `$type: 'string'`).
    const row = await this.messages.findOne({ senderId, clientId: { $eq: clientId, $type: 'string' } }).lean<MessageRecord>();
    return row ? toMessage(row) : undefined;
  }
}
