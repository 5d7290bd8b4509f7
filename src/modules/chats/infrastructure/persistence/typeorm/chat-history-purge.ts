import type { DataSource, EntityManager } from 'typeorm';
import { type HistoryPurgeOptions, HistoryPurges, type PurgeStep } from '../history-purges.js';

/**
 * The messages of deleted chats on PostgreSQL (see migration 1796300000000 and HistoryPurges):
 * `chat_purges` says which chats are owed a removal and how far each got.
 */
export class ChatHistoryPurge extends HistoryPurges {
  constructor(
    private readonly db: DataSource,
    options: Partial<HistoryPurgeOptions> = {},
  ) {
    super('ChatHistoryPurge', options);
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

  protected async listLeft(): Promise<string[]> {
    const rows = (await this.db.query(`SELECT chat_id FROM chat_purges ORDER BY deleted_at, chat_id`)) as Array<{ chat_id: string }>;
    return rows.map((row) => row.chat_id);
  }

  /** Each batch locks the chat's purge record (SKIP LOCKED): two instances never remove the same range. */
  protected async removeNextBatch(chatId: string): Promise<PurgeStep | undefined> {
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
}
