import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';

export interface ChatHistoryPurgeOptions {
  /** Messages removed per transaction. */
  batchSize: number;
  /** How often the purges left (by a failure, a stop, another instance) are looked for. */
  sweepEveryMs: number;
  /** A long purge logs how far it got this often. */
  progressEveryMs: number;
}

const DEFAULTS: ChatHistoryPurgeOptions = { batchSize: 5_000, sweepEveryMs: 60_000, progressEveryMs: 10_000 };

/**
 * Removes the messages of deleted chats after the delete has committed, a batch of seqs per
 * short transaction (see migration 1796300000000): the delete itself takes milliseconds however
 * long the chat's history, and holds nothing while the history goes.
 *
 * Each batch locks the chat's purge record (SKIP LOCKED), removes the next range of seqs and
 * records how far it got, so two instances never remove the same range, and a purge cut short by
 * a stop or a failure goes on from there: every instance sweeps for purges left at its start and
 * then every minute, so one left by an instance that stopped or failed is taken up by another.
 */
export class ChatHistoryPurge {
  private readonly logger = new Logger('ChatHistoryPurge');
  private readonly options: ChatHistoryPurgeOptions;
  /** The purges this instance has started or queued, by chat, so one chat is never purged twice at once here. */
  private readonly running = new Map<string, Promise<boolean>>();
  /**
   * Purges run one after another on an instance: twelve chats of 250k messages deleted at once,
   * purged together, held seven connections and delayed other requests by up to 0.7 s; one at a
   * time, by 0.2 s at most, and all were gone a second and a half later.
   */
  private queue: Promise<unknown> = Promise.resolve();
  private leftovers?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private swept = false;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    options: Partial<ChatHistoryPurgeOptions> = {},
  ) {
    this.options = Object.assign({}, DEFAULTS, options);
  }

  /** In the deleting transaction, once the chat row is gone: its messages up to `lastSeq` are owed a removal. */
  static async note(tx: EntityManager, chatId: string, lastSeq: number): Promise<void> {
    if (lastSeq > 0) await tx.query(`INSERT INTO chat_purges (chat_id, last_seq) VALUES ($1, $2)`, [chatId, lastSeq]);
  }

  /**
   * In the transaction that creates a chat, once the chat row is in: the messages of an earlier
   * chat of the same id that are still to be removed go now, or its seqs would collide with the
   * new chat's. Chat ids are fresh UUIDs, except the LOCAL seed group's fixed one, which comes back
   * at the next start after someone deletes it; so this is a lookup that finds nothing, or a few
   * seed messages.
   */
  static async finishBeforeReuse(tx: EntityManager, chatId: string): Promise<void> {
    await tx.query(
      `WITH owed AS (DELETE FROM chat_purges WHERE chat_id = $1 RETURNING chat_id)
       DELETE FROM messages WHERE chat_id IN (SELECT chat_id FROM owed)`,
      [chatId],
    );
  }

  /** Starts removing a deleted chat's messages (after the purges before it), once its delete has committed; does not wait. */
  start(chatId: string): void {
    if (this.stopped || this.running.has(chatId)) return;
    // With none under way it begins at once (its first batch is in flight when this returns).
    const purge = (this.running.size === 0 ? this.purge(chatId) : this.queue.then(() => this.purge(chatId))).finally(() =>
      this.running.delete(chatId),
    );
    this.queue = purge;
    this.running.set(chatId, purge);
  }

  /** Sweeps for purges left (resumeLeft) now, and every sweepEveryMs until stop(). */
  startSweeping(): void {
    if (this.stopped || this.sweeper) return;
    this.resumeLeft();
    this.sweeper = setInterval(() => this.resumeLeft(), this.options.sweepEveryMs).unref();
  }

  /** Starts on the purges left (by an earlier process, a failure, another instance), one chat after another. */
  resumeLeft(): void {
    if (this.stopped || this.leftovers) return;
    this.leftovers = this.purgeLeft().finally(() => (this.leftovers = undefined));
  }

  /** Resolves once every purge started here has finished or stopped. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.leftovers) await Promise.allSettled([...this.running.values(), this.leftovers]);
  }

  /** Shutdown: no new batch starts; resolves when the batches in flight have committed. What is left is the next start's. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.idle();
  }

  private async purgeLeft(): Promise<void> {
    let left: Array<{ chat_id: string }>;
    try {
      left = await this.db.query(`SELECT chat_id FROM chat_purges ORDER BY deleted_at, chat_id`);
    } catch (error) {
      this.failed('Could not list the deleted chats whose messages are left', error);
      return;
    }
    const first = !this.swept;
    this.swept = true;
    if (left.length === 0) return;
    // At the start, what an earlier process left; later, mostly chats being purged right now.
    if (first) this.logger.log(`Found ${left.length} deleted chat(s) whose messages are still to be removed; removing them…`);
    for (const { chat_id: chatId } of left) {
      if (this.stopped) return;
      this.start(chatId);
      if (!(await this.running.get(chatId))) return; // it stopped, or failed: the next sweep goes on
    }
  }

  /** True when the chat's purge is done (here, or by another instance now holding it). */
  private async purge(chatId: string): Promise<boolean> {
    const began = Date.now();
    let reported = began;
    try {
      for (;;) {
        if (this.stopped) return false;
        const step = await this.removeNextBatch(chatId);
        if (!step || step.to >= step.last) {
          // Said of any history longer than one batch; a short one goes unremarked.
          if (step && step.last > this.options.batchSize) {
            const seconds = ((Date.now() - began) / 1000).toFixed(1);
            this.logger.log(`Removed the messages of deleted chat ${chatId} (${step.last.toLocaleString('en')} in all) in ${seconds} s.`);
          }
          return true;
        }
        if (Date.now() - reported >= this.options.progressEveryMs) {
          reported = Date.now();
          this.logger.log(
            `Removing the messages of deleted chat ${chatId}: ${step.to.toLocaleString('en')} of ${step.last.toLocaleString('en')} so far…`,
          );
        }
      }
    } catch (error) {
      this.failed(`The messages of deleted chat ${chatId} could not all be removed yet`, error);
      return false;
    }
  }

  /** One transaction: the next range of seqs. Undefined when nothing is left, or another instance holds the purge. */
  private async removeNextBatch(chatId: string): Promise<{ to: number; last: number } | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = (await tx.query(`SELECT last_seq, purged_to FROM chat_purges WHERE chat_id = $1 FOR UPDATE SKIP LOCKED`, [
        chatId,
      ])) as Array<{ last_seq: string; purged_to: string }>;
      if (!row) return undefined;
      const last = Number(row.last_seq);
      const to = Math.min(Number(row.purged_to) + this.options.batchSize, last);
      await tx.query(`DELETE FROM messages WHERE chat_id = $1 AND seq > $2 AND seq <= $3`, [chatId, Number(row.purged_to), to]);
      if (to >= last) await tx.query(`DELETE FROM chat_purges WHERE chat_id = $1`, [chatId]);
      else await tx.query(`UPDATE chat_purges SET purged_to = $2 WHERE chat_id = $1`, [chatId, to]);
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
