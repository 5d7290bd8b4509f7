/** True when a PostgreSQL error is a unique-key violation, optionally of one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = (error as { driverError?: unknown }).driverError ?? error;
  const { code, constraint: name } = e as { code?: string; constraint?: string };
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
