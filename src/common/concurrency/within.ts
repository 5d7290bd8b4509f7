/** Waits for `promise` at most `ms` (settled either way counts); true when it settled in time. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/**
 * `promise`, or the error `late` makes when it has not settled after `ms`. `unref`: the wait keeps
 * no process alive (a health check's); a start-up check's does, so that it ends in its error.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, late: () => Error, { unref = false } = {}): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
    if (unref) timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
