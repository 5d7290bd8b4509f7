/**
 * True when a MongoDB write failed on a unique index (E11000), optionally on one named index. The
 * name is read from the server's message (`… index: messages_sender_client dup key: …`), which is
 * also how it reaches us through insertMany's bulk-write error.
 */
export function isDuplicateKey(error: unknown, index?: string): boolean {
  const candidates = [error, ...((error as { writeErrors?: unknown[] } | null)?.writeErrors ?? [])];
  return candidates.some((candidate) => {
    const { code, message, errmsg } = (candidate ?? {}) as { code?: unknown; message?: unknown; errmsg?: unknown };
    if (code !== 11000) return false;
    if (index === undefined) return true;
    const text = `${typeof errmsg === 'string' ? errmsg : ''} ${typeof message === 'string' ? message : ''}`;
    return text.includes(`index: ${index} `);
  });
}
