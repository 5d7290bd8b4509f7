import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Periodic } from '../../common/concurrency/periodic.js';
import { errorMessage } from '../../common/errors/error-message.js';
import { returnedRows } from '../../database/sql.js';
import { ObjectStorage } from '../../storage/object-storage.js';

/** How long an upload has to point its user at the file it stored before the file counts as abandoned. */
export const UPLOAD_GRACE_SECONDS = 24 * 60 * 60;
/** Waits between attempts at a file storage would not delete: a minute, doubling, at most an hour. */
const FIRST_RETRY_SECONDS = 60;
const LAST_RETRY_SECONDS = 60 * 60;
/** A pass deletes at most BATCH × MAX_BATCHES files; the next goes on. */
const BATCH = 50;
const MAX_BATCHES = 20;

/**
 * Avatar files to delete from object storage (the avatar_discards table), kept until storage has
 * deleted them: a replaced or removed avatar's file, and one stored for an upload that never
 * pointed its user at it. A delete that storage refuses, or cannot be asked (it is down), is tried
 * again, a minute later and then less often, by every instance every minute; two instances at once
 * only delete a file twice, which storage takes as done.
 *
 * A file is queued (due at once) in the transaction that stops pointing at it
 * (UserRepository.replaceAvatarKey), so no failure between the database and storage leaves it
 * behind; an upload plans its file's deletion before storing it, and the transaction that points
 * the user at the file drops the plan.
 */
@Injectable()
export class AvatarDiscards implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Avatars');
  private readonly periodic = new Periodic('delete replaced avatar files', 60_000, () => this.run(), this.logger);
  private running?: Promise<number>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly storage: ObjectStorage,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(10_000);
  }

  /** Before the database closes. */
  async onModuleDestroy(): Promise<void> {
    await this.periodic.stop();
    await this.running;
  }

  /** Before an upload stores `key`: unless the upload points its user at it, the file goes a day later. */
  async plan(userId: string, key: string): Promise<void> {
    await this.dataSource.query(`INSERT INTO avatar_discards (key, user_id, due_at) VALUES ($1, $2, now() + make_interval(secs => $3))`, [
      key,
      userId,
      UPLOAD_GRACE_SECONDS,
    ]);
  }

  /**
   * After an upload failed: its file (if storage kept it) goes now, in the background, so the
   * failure is answered without waiting for storage again. If the database cannot take even that,
   * the plan still deletes the file a day later.
   */
  abandon(key: string): void {
    void this.dataSource
      .query(`UPDATE avatar_discards SET due_at = now() WHERE key = $1`, [key])
      .then(() => this.runInBackground())
      .catch((error: unknown) =>
        this.logger.warn(`Could not queue avatar file ${key} for deletion now (${errorMessage(error)}); it goes within a day.`),
      );
  }

  /**
   * Deletes `key`, queued by the caller's own change, now; when storage fails, it stays queued and
   * is tried again later. Never throws: the change that made the file unused is done either way.
   */
  async deleteNow(key: string): Promise<void> {
    const error = await this.deleteFile(key);
    if (error) this.logger.warn(`Could not delete avatar file ${key} (${error}); it stays queued and is tried again in a minute.`);
  }

  /** One pass over the files due; says how many went. */
  async run(): Promise<number> {
    let deleted = 0;
    const failures: string[] = [];
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      // Never a file a user points at (the plan of one is dropped as it comes into use; this only guards).
      const due = returnedRows<{ key: string }>(
        await this.dataSource.query(
          `SELECT d.key FROM avatar_discards d
            WHERE d.due_at <= now() AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id AND u.avatar_key = d.key)
            ORDER BY d.due_at LIMIT $1`,
          [BATCH],
        ),
      );
      for (const { key } of due) {
        const error = await this.deleteFile(key);
        if (error) failures.push(`${key}: ${error}`);
        else deleted++;
      }
      // A batch with a failure ends the pass: storage is likely down, and the next pass comes soon.
      if (due.length < BATCH || failures.length > 0) break;
    }
    if (deleted > 0) this.logger.log(`Deleted ${deleted} replaced or abandoned avatar file(s).`);
    if (failures.length > 0)
      this.logger.warn(
        `Could not delete ${failures.length} avatar file(s) (first: ${failures[0]}); they stay queued and are tried again later.`,
      );
    return deleted;
  }

  private runInBackground(): void {
    this.running ??= this.run()
      .catch((error: unknown) => {
        this.logger.warn(`Could not delete replaced avatar files (${errorMessage(error)}); trying again in a minute.`);
        return 0;
      })
      .finally(() => (this.running = undefined));
  }

  /** Deletes the file and its row; on failure, counts the attempt and says why. */
  private async deleteFile(key: string): Promise<string | undefined> {
    try {
      await this.storage.delete(key);
    } catch (error) {
      const why = errorMessage(error);
      await this.dataSource
        .query(
          `UPDATE avatar_discards SET attempts = attempts + 1, last_error = $2,
                  due_at = now() + make_interval(secs => least($3 * power(2, attempts), $4))
            WHERE key = $1`,
          [key, why.slice(0, 500), FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS],
        )
        .catch(() => undefined); // the row stays due: the next pass tries again
      return why;
    }
    await this.dataSource.query(`DELETE FROM avatar_discards WHERE key = $1`, [key]);
    return undefined;
  }
}
