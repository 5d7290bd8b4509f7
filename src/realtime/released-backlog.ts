/**
 * Live frames a connection kept back (behind its first catch-up, or a `sync`) and then let out at
 * once: the client could not read them while they were kept (they were bounded as kept bytes
 * then), so the part of them it has not read yet is not held against it as a slow reader.
 *
 * The send buffer drains in the order it was written: what was in it before the release goes
 * first, then the released frames, then whatever came after. So from the bytes put in since the
 * release began and what is buffered now, the released bytes still unread are known exactly (but
 * for the few header bytes ws adds to each frame, which only make it a little sooner to shrink).
 * A second release while one is still unread joins it, counting the frames written between the
 * two as if ahead of both: never more than one buffer bound too generous.
 */
export class ReleasedBacklog {
  /** Bytes in the buffer ahead of the released ones when the release began. */
  private ahead = 0;
  /** Released bytes written (this release's, and what was unread of an earlier one). */
  private released = 0;
  /** Everything in the buffer when the release began, plus every byte written since. */
  private put = 0;

  /** A release begins with `buffered` bytes waiting to be sent. */
  begin(buffered: number): void {
    const unread = this.unread(buffered);
    this.ahead = buffered - unread;
    this.released = unread;
    this.put = buffered;
  }

  /** A frame of `bytes` was written; `released` when it is one of the frames let out. */
  wrote(bytes: number, released: boolean): void {
    this.put += bytes;
    if (released) this.released += bytes;
  }

  /** Released bytes the client has yet to read, with `buffered` bytes waiting to be sent now. */
  unread(buffered: number): number {
    const drained = this.put - buffered;
    return Math.min(this.released, Math.max(0, this.released - Math.max(0, drained - this.ahead)));
  }
}
