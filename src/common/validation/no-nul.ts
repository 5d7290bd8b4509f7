/** Deeper than this, a body is refused before anything walks it (no DTO of Parley's nests past a few levels). */
export const MAX_BODY_DEPTH = 32;

/**
 * More field names than this in a body or frame, counting every object in it (not array items),
 * and it is refused before validation: class-transformer's copy of an object takes time in the
 * square of its keys (121,000 unknown keys in a 1 MiB sign-in held the event loop for 27 s). The
 * largest object a request may send is a `sync` frame's map of 500 chats.
 */
export const MAX_BODY_KEYS = 1000;

export type StringProblem = { field: string; problem: 'nul' | 'surrogate' | 'depth' | 'reserved' | 'keys' };

/** Keys that object copies drop or treat specially: refused, rather than silently gone from what is validated. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The first string (value or key) in a body or query that holds U+0000, which no text column can
 * store, or half a surrogate pair (JSON's `"\ud800"`), which is no character and would be stored
 * as U+FFFD: refused up front for every field rather than each DTO remembering to; or the
 * place where the value nests deeper than MAX_BODY_DEPTH, a key such as `__proto__`, or more keys
 * than MAX_BODY_KEYS in all (then `field` is `body`). Walks with
 * a stack of its own, so no input can exhaust the call stack. It runs on every frame: strings are
 * checked where they stand, and only nested objects are queued, so a flat body allocates nothing
 * but its key list.
 */
export function stringProblem(value: unknown): StringProblem | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { field: 'body', problem } : undefined;
  }
  if (!isWalkable(value)) return undefined;
  const stack: Array<{ value: object; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  let keys = 0;
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (depth >= MAX_BODY_DEPTH) return { field: path || 'body', problem: 'depth' };
    const names = Object.keys(current);
    if (!Array.isArray(current) && (keys += names.length) > MAX_BODY_KEYS) return { field: 'body', problem: 'keys' };
    for (const key of names) {
      const keyProblem = textProblem(key);
      if (keyProblem) return { field: path || 'body', problem: keyProblem };
      if (RESERVED_KEYS.has(key)) return { field: path ? `${path}.${key}` : key, problem: 'reserved' };
      const item = (current as Record<string, unknown>)[key];
      if (typeof item === 'string') {
        const problem = textProblem(item);
        if (problem) return { field: path ? `${path}.${key}` : key, problem };
      } else if (isWalkable(item)) {
        stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

function isWalkable(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}

/** In `u` mode a pair is one code point, so \p{Cs} finds only a surrogate without its other half. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What makes a string no text: a NUL, or half of a surrogate pair. */
export function textProblem(text: string): 'nul' | 'surrogate' | undefined {
  if (text.includes('\0')) return 'nul';
  return LONE_SURROGATE.test(text) ? 'surrogate' : undefined;
}
