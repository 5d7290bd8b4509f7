import { Logger } from '@nestjs/common';
import { within } from '../../../../common/concurrency/within.js';
import { errorMessage } from '../../../../common/errors/error-message.js';

export interface HistoryPurgeOptions {
  /** Messages removed per transaction. */
  batchSize: number;
  /** How often the purges left (by a failure, a stop, another instance) are looked for. */
  sweepEveryMs: number;
  /** A long purge logs how far it got this often. */
  progressEveryMs: number;
}

/** How long a stop waits for the batch in flight. */
const STOP_WAIT_MS = 5_000;

const DEFAULTS: HistoryPurgeOptions = { batchSize: 5_000, sweepEveryMs: 60_000, progressEveryMs: 10_000 };

/** How far one batch got: messages up to `to` are gone, of the `last` seq the chat had. */
export interface PurgeStep {
  to: number;
  last: number;
}

/**
 * Removes the messages of deleted chats after the delete has committed, a batch of seqs per short
 * transaction: the delete itself takes milliseconds however long the chat's history, and holds
 * nothing while the history goes. Each store says which chats are owed a purge and removes one
 * batch (recording how far it got, and refusing a batch another instance holds); this schedules
 * them, the same on every store.
 *
 * Purges run one chat after another on an instance, which holds one connection and delays other
 * requests least (twelve chats of 250k messages purged together delayed them by up to 0.7 s, one
 * at a time by 0.2 s at most, on PostgreSQL). A purge cut
 * short by a stop or a failure goes on from where it got: every instance sweeps for purges left at
 * its start and then every minute, so one left by an instance that stopped or failed is taken up
 * by another.
 */
export abstract class HistoryPurges {
  protected readonly options: HistoryPurgeOptions;
  private readonly logger: Logger;
  /** The purges this instance has started or queued, by chat, so one chat is never purged twice at once here. */
  private readonly running = new Map<string, Promise<boolean>>();
  private queue: Promise<unknown> = Promise.resolve();
  private leftovers?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private swept = false;
  private stopped = false;

  constructor(context: string, options: Partial<HistoryPurgeOptions> = {}) {
    this.logger = new Logger(context);
    this.options = Object.assign({}, DEFAULTS, options);
  }

  /** The chats owed a purge, the longest owed first. */
  protected abstract listLeft(): Promise<string[]>;

  /** One transaction: the next range of seqs. Undefined when nothing is owed any more, or another instance holds the purge. */
  protected abstract removeNextBatch(chatId: string): Promise<PurgeStep | undefined>;

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

  /**
   * Shutdown: no new batch starts; resolves when the batch in flight has committed, or after
   * STOP_WAIT_MS (a store gone away mid-batch may keep retrying it: MongoDB's driver, for two
   * minutes). What is left is the next start's.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await within(this.idle(), STOP_WAIT_MS);
  }

  private async purgeLeft(): Promise<void> {
    let left: string[];
    try {
      left = await this.listLeft();
    } catch (error) {
      this.failed('Could not list the deleted chats whose messages are left', error);
      return;
    }
    const first = !this.swept;
    this.swept = true;
    if (left.length === 0) return;
    // At the start, what an earlier process left; later, mostly chats being purged right now.
    if (first) this.logger.log(`Found ${left.length} deleted chat(s) whose messages are still to be removed; removing them…`);
    for (const chatId of left) {
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

  private failed(what: string, error: unknown): void {
    if (this.stopped) return; // the connection closing under a batch: the next start goes on
    this.logger.warn(`${what} (${errorMessage(error)}); trying again within ${this.options.sweepEveryMs / 1000} s.`);
  }
}
