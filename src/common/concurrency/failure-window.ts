/**
 * "It failed a moment ago": after a failure, for `ms`, callers do without what failed (they answer
 * from elsewhere, or do not wait for it) rather than each find out again by waiting out its
 * timeout; a success ends the window early.
 */
export class FailureWindow {
  private until = 0;

  constructor(
    private readonly ms: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a failure was seen less than `ms` ago (and no success since). */
  get open(): boolean {
    return this.now() < this.until;
  }

  failed(): void {
    this.until = this.now() + this.ms;
  }

  succeeded(): void {
    this.until = 0;
  }
}
