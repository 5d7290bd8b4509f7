import type { ClientSession, Connection, Model } from 'mongoose';
import { inTransaction } from '../../../../../database/mongo/transactions.js';
import type { MessageRecord } from '../../../../messages/infrastructure/persistence/mongo/message.schema.js';
import { type HistoryPurgeOptions, HistoryPurges, type PurgeStep } from '../history-purges.js';
import type { ChatPurgeRecord, ChatRecord } from './chat.schema.js';

/**
 * The messages of deleted chats in MongoDB (see HistoryPurges), a range of seqs per transaction
 * as on PostgreSQL: no single write removes a million documents (one oplog entry each, which
 * secondaries replay while every send waits for a majority). `chat_purges` says which chats are
 * owed a removal, up to which seq, and how far each got.
 *
 * Each batch claims the chat's purge record, removes the next range and records how far it got,
 * in one transaction: two instances purging one chat conflict on that record and one of them runs
 * again on what the other left, and a chat made again with the same id (which deletes the record,
 * finishBeforeReuse) stops a purge under way before it reaches the new chat's messages.
 */
export class MongoChatHistoryPurge extends HistoryPurges {
  constructor(
    private readonly connection: Connection,
    private readonly chats: Pick<Model<ChatRecord>, 'exists'>,
    private readonly messages: Model<MessageRecord>,
    private readonly purges: Model<ChatPurgeRecord>,
    options: Partial<HistoryPurgeOptions> = {},
  ) {
    super('MongoChatHistoryPurge', options);
  }

  /** In the deleting transaction, once the chat record is gone: its messages up to `lastSeq` are owed a removal. */
  async note(chatId: string, lastSeq: number, session: ClientSession): Promise<void> {
    if (lastSeq <= 0) return;
    await this.purges.updateOne(
      { _id: chatId },
      { $setOnInsert: { deletedAt: new Date(), lastSeq, purgedTo: 0 } },
      { session, upsert: true },
    );
  }

  /**
   * In the transaction that creates a chat: the messages of an earlier chat of the same id still to
   * be removed go now, or their seqs would collide with the new chat's. Chat ids are fresh UUIDs,
   * except the LOCAL seed group's fixed one: a lookup that finds nothing, or a few seed messages.
   */
  async finishBeforeReuse(chatId: string, session: ClientSession): Promise<void> {
    const owed = await this.purges.findOneAndDelete({ _id: chatId }, { session }).lean<ChatPurgeRecord>();
    if (owed) await this.messages.deleteMany({ chatId }, { session });
  }

  protected async listLeft(): Promise<string[]> {
    const left = await this.purges.find({}, { _id: 1 }).sort({ deletedAt: 1, _id: 1 }).lean<ChatPurgeRecord[]>();
    return left.map((record) => record._id);
  }

  /**
   * One transaction: the next range of seqs. Undefined when nothing is owed any more. Its first
   * step writes the purge record (`claims`), so that another instance purging the same chat, or a
   * chat made again with its id, conflicts there, before the deletes rather than after them.
   */
  protected removeNextBatch(chatId: string): Promise<PurgeStep | undefined> {
    return inTransaction(this.connection, async (session) => {
      const owed = await this.purges
        .findOneAndUpdate({ _id: chatId }, { $inc: { claims: 1 } }, { session, returnDocument: 'after' })
        .lean<ChatPurgeRecord>();
      if (!owed) return undefined;
      if (owed.lastSeq === undefined && (await this.chats.exists({ _id: chatId }).session(session))) {
        // A record from before ranges were kept, beside a chat made again with the id by a release
        // that did not clear it first: the messages there are the new chat's. Nothing to remove.
        await this.purges.deleteOne({ _id: chatId }, { session });
        return undefined;
      }
      // A record from before ranges were kept says no last seq: the highest stored is the last.
      const last =
        owed.lastSeq ??
        (await this.messages.findOne({ chatId }, { seq: 1 }, { session }).sort({ seq: -1 }).lean<MessageRecord>())?.seq ??
        0;
      const from = owed.purgedTo ?? 0;
      const to = Math.min(from + this.options.batchSize, last);
      await this.messages.deleteMany({ chatId, seq: { $gt: from, $lte: to } }, { session });
      if (to >= last) await this.purges.deleteOne({ _id: chatId }, { session });
      else await this.purges.updateOne({ _id: chatId }, { $set: { purgedTo: to, lastSeq: last } }, { session });
      return { to, last };
    });
  }
}
