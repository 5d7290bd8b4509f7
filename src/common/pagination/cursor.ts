import { stringProblem } from '../validation/no-nul.js';
import { ValidationError } from '../errors/domain-error.js';

/** Opaque cursors: base64url JSON, so clients cannot depend on what is inside. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, isValid: (value: unknown) => value is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // No cursor Parley makes holds U+0000 (no text column can), so one that does is forged.
    if (isValid(value) && !stringProblem(value)) return value;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError(
    'The cursor is not valid; pass back a nextCursor from a previous page.',
    [{ field: 'cursor', message: 'cursor is malformed' }],
    'INVALID_CURSOR',
  );
}

/** The list shape of the contract. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total?: number;
}
