/** A key the server built wrongly: a bug, never a client's mistake, so it is not a DomainError. */
export class InvalidObjectKeyError extends Error {
  constructor(key: string, reason: string) {
    super(`Invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidObjectKeyError';
  }
}

/** S3's own limit on key length, in bytes; the local adapter keeps the same rule so both agree. */
export const MAX_OBJECT_KEY_LENGTH = 1024;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Throws unless key is a relative path of safe segments. Segments may not start with a dot: that
 * rules out `.` and `..` (no escaping the storage directory) and leaves dot-names free for the
 * local adapter's own bookkeeping.
 */
export function assertValidObjectKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidObjectKeyError(String(key), 'it is empty');
  if (key.length > MAX_OBJECT_KEY_LENGTH)
    throw new InvalidObjectKeyError(key.slice(0, 40) + '…', `it is longer than ${MAX_OBJECT_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new InvalidObjectKeyError(key, 'it starts with "/"');
  for (const segment of key.split('/')) {
    if (segment.length === 0) throw new InvalidObjectKeyError(key, 'it has an empty path segment');
    if (!SEGMENT.test(segment)) throw new InvalidObjectKeyError(key, 'segments may only contain A-Z a-z 0-9 . _ -');
    if (segment.startsWith('.')) throw new InvalidObjectKeyError(key, 'a path segment starts with "."');
  }
}
