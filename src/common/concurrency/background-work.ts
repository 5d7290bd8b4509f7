/**
 * Work a service starts and does not wait for (it runs after an answer was sent), kept so that
 * shutdown can wait for it before the database and other connections close.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();

  /** Keeps `work` until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const forget = () => void this.running.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Resolves once all tracked work has settled, including work started while it waits. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
