import { Logger } from '@nestjs/common';
import type { ClientSession, Connection, Model } from 'mongoose';
import { inTransaction } from '../../../../../database/mongo/transactions.js';
import type { MessageRecord } from '../../../../messages/infrastructure/persistence/mongo/message.schema.js';
import type { ChatPurgeRecord, ChatRecord } from './chat.schema.js';

export interface MongoChatHistoryPurgeOptions {
  /** Messages removed per transaction. */
  batchSize: number;
  /** How often the purges left (by a failure, a stop, another instance) are looked for. */
  sweepEveryMs: number;
}

const DEFAULTS: MongoChatHistoryPurgeOptions = { batchSize: 5_000, sweepEveryMs: 60_000 };

/**
 * Removes the messages of deleted chats after the delete has committed, a range of seqs per short
 * transaction, as the PostgreSQL store's ChatHistoryPurge does: the delete answers at once however
 * long the history, and no single write removes a million documents (one oplog entry each, which
 * secondaries replay while every send waits for a majority).
 *
 * Each batch reads the chat's purge record, removes the next range up to the last seq recorded at
 * the delete and records how far it got, in one transaction: two instances purging one chat
 * conflict on that record and one of them runs again on what the other left, and a chat made
 * again with the same id (which deletes the record, finishBeforeReuse) stops a purge under way
 * before it reaches the new chat's messages. Purges run one after another on an instance; every
 * instance sweeps for those left at its start and every minute.
 */
export class MongoChatHistoryPurge {
  private readonly logger = new Logger('MongoChatHistoryPurge');
  private readonly options: MongoChatHistoryPurgeOptions;
  /** The purges this instance has started or queued, by chat, so one chat is never purged twice at once here. */
  private readonly running = new Map<string, Promise<boolean>>();
  private queue: Promise<unknown> = Promise.resolve();
  private leftovers?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private swept = false;
  private stopped = false;

  constructor(
    private readonly connection: Connection,
    private readonly chats: Pick<Model<ChatRecord>, 'exists'>,
    private readonly messages: Model<MessageRecord>,
    private readonly purges: Model<ChatPurgeRecord>,
    options: Partial<MongoChatHistoryPurgeOptions> = {},
  ) {
    this.options = Object.assign({}, DEFAULTS, options);
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

  /** Starts removing a deleted chat's messages (after the purges before it), once its delete has committed; does not wait. */
  start(chatId: string): void {
    if (this.stopped || this.running.has(chatId)) return;
    const purge = (this.running.size === 0 ? this.purge(chatId) : this.queue.then(() => this.purge(chatId))).finally(() =>
      this.running.delete(chatId),
    );
    this.queue = purge;
    this.running.set(chatId, purge);
  }

  /** Sweeps for purges left now, and every sweepEveryMs until stop(). */
  startSweeping(): void {
    if (this.stopped || this.sweeper) return;
    this.resumeLeft();
    this.sweeper = setInterval(() => this.resumeLeft(), this.options.sweepEveryMs).unref();
  }

  /** Resolves once every purge started here has finished or stopped. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.leftovers) await Promise.allSettled([...this.running.values(), this.leftovers]);
  }

  /** Shutdown: no new batch starts. What is left is the next start's (or another instance's next sweep). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private resumeLeft(): void {
    if (this.stopped || this.leftovers) return;
    this.leftovers = this.purgeLeft().finally(() => (this.leftovers = undefined));
  }

  private async purgeLeft(): Promise<void> {
    let left: ChatPurgeRecord[];
    try {
      left = await this.purges.find({}, { _id: 1 }).sort({ deletedAt: 1, _id: 1 }).lean<ChatPurgeRecord[]>();
    } catch (error) {
      this.failed('Could not list the deleted chats whose messages are left', error);
      return;
    }
    const first = !this.swept;
    this.swept = true;
    if (left.length === 0) return;
    if (first) this.logger.log(`Found ${left.length} deleted chat(s) whose messages are still to be removed; removing them…`);
    for (const { _id: chatId } of left) {
      if (this.stopped) return;
      this.start(chatId);
      if (!(await this.running.get(chatId))) return; // it stopped, or failed: the next sweep goes on
    }
  }

  /** True when the chat's purge is done (here, or by another instance, or ended by the id's reuse). */
  private async purge(chatId: string): Promise<boolean> {
    try {
      for (;;) {
        if (this.stopped) return false;
        const step = await this.removeNextBatch(chatId);
        if (!step || step.to >= step.last) return true;
      }
    } catch (error) {
      this.failed(`The messages of deleted chat ${chatId} could not all be removed yet`, error);
      return false;
    }
  }

  /**
   * One transaction: the next range of seqs. Undefined when nothing is owed any more. Its first
   * step writes the purge record (`claims`), so that another instance purging the same chat, or a
   * chat made again with its id, conflicts there, before the deletes rather than after them.
   */
  private removeNextBatch(chatId: string): Promise<{ to: number; last: number } | undefined> {
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

  private failed(what: string, error: unknown): void {
    if (this.stopped) return; // the connection closing under a batch: the next start goes on
    this.logger.warn(
      `${what} (${error instanceof Error ? error.message : String(error)}); trying again within ${this.options.sweepEveryMs / 1000} s.`,
    );
  }
}
