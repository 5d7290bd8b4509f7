/**
 * Sockets not authenticated yet, counted per client address. A socket without a token may wait
 * `authTimeoutMs` for its `auth` frame, and costs memory all that while; without a bound per
 * address, one host could keep tens of thousands open by opening them faster than they time out.
 * An authenticated socket counts against its user instead (`maxConnectionsPerUser`).
 *
 * The map holds an entry per address with sockets pending right now, usually none: a socket is
 * pending from its upgrade until its token is checked, milliseconds for a client that sends one.
 * Addresses are counted by `clientNetwork`: an IPv6 host usually has a whole /64 to pick from.
 */
export class PendingSockets {
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts one more socket for the address; false (and nothing counted) when it already has `limit`. */
  take(address: string): boolean {
    const count = this.byAddress.get(address) ?? 0;
    if (count >= this.limit) return false;
    this.byAddress.set(address, count + 1);
    return true;
  }

  /** One socket of the address is no longer pending (authenticated, or closed). */
  release(address: string): void {
    const count = this.byAddress.get(address);
    if (count === undefined) return;
    if (count <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, count - 1);
  }
}
