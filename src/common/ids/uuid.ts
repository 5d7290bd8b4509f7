const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in either case, as clients may write one (ids are taken in either case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_ANY_CASE.test(value);
}

/** A UUID as Parley writes one (randomUUID, PostgreSQL's uuid): lower case, what its own tokens and cursors carry. */
export function isLowerCaseUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
