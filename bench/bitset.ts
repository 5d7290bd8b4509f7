/** A growable set of small non-negative integers (message seqs), one bit each. */
export class SeqSet {
  private bits = new Uint8Array(256);
  size = 0;
  min = Infinity;
  max = -Infinity;

  has(n: number): boolean {
    const byte = n >> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (n & 7))) !== 0;
  }

  /** Adds n; false when it was already there. */
  add(n: number): boolean {
    const byte = n >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    this.size++;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
    return true;
  }

  /** How many members of `expected` are missing here. */
  missingFrom(expected: SeqSet): number {
    let missing = 0;
    if (expected.size === 0) return 0;
    for (let n = expected.min; n <= expected.max; n++) if (expected.has(n) && !this.has(n)) missing++;
    return missing;
  }
}
