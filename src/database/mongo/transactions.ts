import type { ClientSession, Connection } from 'mongoose';

/**
 * Runs `work` in one MongoDB transaction (snapshot reads, majority commit) and returns its result.
 * The driver retries the whole of `work`, with backoff, when the transaction hits a write conflict
 * (another transaction changed a document this one writes), so `work` must pass `session` to every
 * operation and keep no state between attempts. Any other error aborts it and is thrown as is.
 */
export async function inTransaction<T>(connection: Connection, work: (session: ClientSession) => Promise<T>): Promise<T> {
  const session = await connection.startSession();
  try {
    // On the primary whatever MONGODB_URI's readPreference says: a transaction reads nowhere else.
    return await session.withTransaction(() => work(session), {
      readPreference: 'primary',
      readConcern: { level: 'snapshot' },
      writeConcern: { w: 'majority' },
    });
  } finally {
    await session.endSession();
  }
}
