import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { driverErrorOf } from '../common/errors/store-errors.js';

/** True when a PostgreSQL error is a unique-key violation, optionally of one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const { code, constraint: name } = driverErrorOf(error);
  return code === '23505' && (constraint === undefined || name === constraint);
}

/**
 * TypeORM's `query()` answers UPDATE/DELETE … RETURNING on PostgreSQL with `[rows, affected]`
 * but INSERT/SELECT with plain rows; this gives the rows either way.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

/**
 * Runs a statement of a hot path (a send) straight on the driver's pool, without TypeORM's
 * per-call query runner; answers the rows. Errors are the driver's own (isUniqueViolation reads
 * both kinds).
 *
 * Deliberately not a named prepared statement: its generic plan is made from the statistics of
 * the moment, and one made while `messages` was small (a new install, or a benchmark's first
 * seconds) kept scanning the whole table once it was not. A statement whose planning costs too
 * much goes into a function whose plan is kept to index lookups, as parley_append_messages does.
 */
export async function runHot<T extends pg.QueryResultRow>(db: DataSource, text: string, values: unknown[]): Promise<T[]> {
  const pool = (db.driver as unknown as { master: pg.Pool }).master;
  return (await pool.query<T>(text, values)).rows;
}
