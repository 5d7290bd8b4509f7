import { AsyncLocalStorage } from 'node:async_hooks';
import { within } from './concurrency/within.js';

/**
 * What a start has opened so far, to close should the start fail. Nest does not close a module
 * graph it could not finish building, and builds independent providers at once: a start that
 * failed at S3 while the embedded database was still starting left the database running and its
 * directory locked (in a container, the restart was then refused until the lock's heartbeat was
 * 20 s old), and a pool open.
 */
interface Start {
  /** Closers of what was opened, in the order it was. */
  closers: Array<() => Promise<unknown>>;
  /** What is still being opened (settled either way). */
  pending: Array<Promise<unknown>>;
}

const scope = new AsyncLocalStorage<Start>();
/** How long a failed start waits for what it was still opening, before closing what it has. */
const SETTLE_MS = 30_000;

/**
 * Runs `start`; if it throws, waits for what its providers were still opening (see `opening`),
 * closes all of it, newest first, then throws again.
 */
export async function closingOnFailure<T>(start: () => Promise<T>): Promise<T> {
  const state: Start = { closers: [], pending: [] };
  try {
    return await scope.run(state, start);
  } catch (error) {
    const deadline = Date.now() + SETTLE_MS;
    for (let seen = -1; seen !== state.pending.length && Date.now() < deadline;) {
      seen = state.pending.length;
      await within(Promise.all(state.pending.slice()), deadline - Date.now());
    }
    for (const close of state.closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

/**
 * `open`, as part of the start under way: should that start fail, it is waited for and, once
 * opened, closed with `close`. Outside a start, just `open`.
 */
export function opening<T>(open: Promise<T>, close: (opened: T) => Promise<unknown>): Promise<T> {
  const state = scope.getStore();
  if (!state) return open;
  const opened = open.then((value) => {
    state.closers.push(() => close(value));
    return value;
  });
  state.pending.push(opened.catch(() => undefined));
  return opened;
}
