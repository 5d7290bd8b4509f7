import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Periodic } from '../../common/concurrency/periodic.js';
import { within } from '../../common/concurrency/within.js';
import { errorMessage } from '../../common/errors/error-message.js';
import { returnedRows } from '../../database/sql.js';
import { ObjectStorage } from '../../storage/object-storage.js';

/** How long an upload has to point its user at the file it stored before the file counts as abandoned. */
export const UPLOAD_GRACE_SECONDS = 24 * 60 * 60;
/**
 * How long a failed upload's file waits: storage may still finish a put the server gave up on,
 * and a file deleted before that would come back with no row to delete it again.
 */
const ABANDONED_AFTER_SECONDS = 60;
/** Waits between attempts at a file: a minute, doubling, at most an hour. */
const FIRST_RETRY_SECONDS = 60;
const LAST_RETRY_SECONDS = 60 * 60;
/** A pass deletes at most BATCH × MAX_BATCHES files; the next goes on. */
const BATCH = 50;
const MAX_BATCHES = 20;
/** How long a stop waits for a delete in progress (storage may be slow to answer one). */
const STOP_WAIT_MS = 5_000;

/**
 * Avatar files to delete from object storage (the avatar_discards table), kept until storage has
 * deleted them: a replaced or removed avatar's file, and one stored for an upload that never
 * pointed its user at it. Every instance goes through the files due every minute; a delete that
 * storage refuses, or cannot be asked (it is down), is tried again a minute later, then less often.
 *
 * A file is queued (due at once) in the transaction that stops pointing at it
 * (UserRepository.replaceAvatarKey), so no failure between the database and storage leaves it
 * behind. An upload plans its file's deletion before storing it, and the transaction that points
 * the user at the file drops the plan, but only a plan no deletion has claimed: a file is deleted
 * only after its row is claimed (attempts counted, next try set), so the two never both happen.
 */
@Injectable()
export class AvatarDiscards implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Avatars');
  private readonly periodic = new Periodic('delete replaced avatar files', 60_000, () => this.run(), this.logger);
  private stopped = false;
  /** Deletes in progress, for a stop to wait on. */
  private readonly deleting = new Set<Promise<unknown>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly storage: ObjectStorage,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(10_000);
  }

  /** Before the database closes: no new delete starts, and one in progress gets STOP_WAIT_MS. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    await within(Promise.all([this.periodic.stop(), ...this.deleting]), STOP_WAIT_MS);
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
   * After an upload failed: its file (if storage kept it) goes in a minute rather than a day, by the
   * pass that comes then; the failure is answered without waiting for storage again. If the
   * database cannot take even that, the plan still deletes the file a day later.
   */
  abandon(key: string): void {
    this.dataSource
      .query(`UPDATE avatar_discards SET due_at = now() + make_interval(secs => $2) WHERE key = $1 AND attempts = 0`, [
        key,
        ABANDONED_AFTER_SECONDS,
      ])
      .catch((error: unknown) =>
        this.logger.warn(`Could not bring the deletion of avatar file ${key} forward (${errorMessage(error)}); it goes within a day.`),
      );
  }

  /**
   * Deletes `key`, queued (due now) by the caller's own change, now; when storage fails, it stays
   * queued and is tried again later. Never throws: the change that made the file unused is done either way.
   */
  async deleteNow(key: string): Promise<void> {
    const outcome = await this.deleteFile(key).catch((failure: unknown) => errorMessage(failure));
    if (outcome !== 'deleted' && outcome !== 'not claimed')
      this.logger.warn(`Could not delete avatar file ${key} (${outcome}); it stays queued and is tried again later.`);
  }

  /** One pass over the files due; says how many went. A failure ends it: storage is likely down, and the next pass comes soon. */
  async run(): Promise<number> {
    let deleted = 0;
    let failure: string | undefined;
    for (let batch = 0; batch < MAX_BATCHES && !failure && !this.stopped; batch++) {
      const due = returnedRows<{ key: string }>(
        await this.dataSource.query(
          `SELECT d.key FROM avatar_discards d
            WHERE d.due_at <= now() AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id AND u.avatar_key = d.key)
            ORDER BY d.due_at LIMIT $1`,
          [BATCH],
        ),
      );
      for (const { key } of due) {
        if (this.stopped) break;
        const outcome = await this.deleteFile(key);
        if (outcome === 'deleted') deleted++;
        else if (outcome !== 'not claimed') {
          failure = `${key}: ${outcome}`;
          break;
        }
      }
      if (due.length < BATCH) break;
    }
    if (deleted > 0) this.logger.log(`Deleted ${deleted} replaced or abandoned avatar file(s).`);
    if (failure) this.logger.warn(`Could not delete an avatar file (${failure}); the queue is tried again in a minute.`);
    return deleted;
  }

  /**
   * Claims the file's row (counts the attempt and sets the next), then deletes the file and the
   * row. Nothing to claim (another instance has it, the upload took the file into use, it is not
   * due) is nothing to do. Never a file a user points at: the plan of one is dropped as it comes
   * into use, and this checks again. Says what came of it, or why the delete failed.
   */
  private async deleteFile(key: string): Promise<'deleted' | 'not claimed' | string> {
    if (this.stopped) return 'the server is stopping';
    const claimed = returnedRows<{ key: string }>(
      await this.dataSource.query(
        `UPDATE avatar_discards d
            SET attempts = d.attempts + 1, due_at = now() + make_interval(secs => least($2 * power(2, d.attempts), $3))
          WHERE d.key = $1 AND d.due_at <= now()
            AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id AND u.avatar_key = d.key)
          RETURNING d.key`,
        [key, FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS],
      ),
    );
    if (claimed.length === 0) return 'not claimed';
    const deleting = this.storage.delete(key);
    this.deleting.add(deleting);
    try {
      await deleting;
    } catch (error) {
      const why = errorMessage(error);
      await this.dataSource
        .query(`UPDATE avatar_discards SET last_error = $2 WHERE key = $1`, [key, why.slice(0, 500)])
        .catch(() => undefined);
      return why;
    } finally {
      this.deleting.delete(deleting);
    }
    // Gone from storage; should this fail, the row is claimed again later and storage deletes nothing twice.
    await this.dataSource.query(`DELETE FROM avatar_discards WHERE key = $1`, [key]).catch(() => undefined);
    return 'deleted';
  }
}
