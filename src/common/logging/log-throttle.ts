/**
 * Lets a repeating problem through to the log once per `everyMs` (an outage fails every request,
 * and would otherwise write a line for each), counting the ones held back in between.
 */
export class LogThrottle {
  private passedAt = -Infinity;
  private heldBack = 0;

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Undefined when this one is held back; else how many were held back since the last one let through. */
  pass(): number | undefined {
    const now = this.now();
    if (now - this.passedAt < this.everyMs) {
      this.heldBack += 1;
      return undefined;
    }
    const held = this.heldBack;
    this.passedAt = now;
    this.heldBack = 0;
    return held;
  }
}

/**
 * What a line let through adds for the `held` ones held back before it (what `pass` returned):
 * " (and 3 more since the last such line)", or nothing for none.
 */
export function heldBackNote(held: number): string {
  return held > 0 ? ` (and ${held} more since the last such line)` : '';
}
