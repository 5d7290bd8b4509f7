import type { Logger } from '@nestjs/common';
import { errorMessage } from '../errors/error-message.js';

/**
 * A background task run now and then (housekeeping): first `firstAfterMs` after start(), then
 * `everyMs` after each run ends. A failure is logged and the next run tries again. stop() waits
 * for a run in progress, so that it can be called before the database closes. Its timers keep no
 * process alive.
 */
export class Periodic {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(
    /** What it does, for the log: "remove expired sessions". */
    private readonly what: string,
    private readonly everyMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  start(firstAfterMs: number): void {
    this.stopped = false;
    this.schedule(firstAfterMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.running = this.task()
        .then(
          () => undefined,
          (error: unknown) =>
            this.logger.warn(`Could not ${this.what} (${errorMessage(error)}); trying again in ${Math.round(this.everyMs / 60_000)} min.`),
        )
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.everyMs);
        });
    }, ms).unref();
  }
}

/**
 * Calls `removeBatch(limit)` until it removes fewer than `limit` rows, or `maxBatches` times: a
 * housekeeping run takes a backlog in bounded bites, and the next run goes on with it. Returns how
 * many went.
 */
export async function removeInBatches(removeBatch: (limit: number) => Promise<number>, limit = 1000, maxBatches = 100): Promise<number> {
  let removed = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const gone = await removeBatch(limit);
    removed += gone;
    if (gone < limit) break;
  }
  return removed;
}
