/**
 * Runs tasks that share a key one after another, in the order they were submitted; tasks with
 * different keys run concurrently. A failed task does not stop the ones after it.
 */
export class KeyedSequencer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task) : task();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with tasks queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
