import { isIPv6 } from 'node:net';

/**
 * Sockets not authenticated yet, counted per client address. A socket without a token may wait
 * `authTimeoutMs` for its `auth` frame, and costs memory all that while; without a bound per
 * address, one host could keep tens of thousands open by opening them faster than they time out.
 * An authenticated socket counts against its user instead (`maxConnectionsPerUser`).
 *
 * The map holds an entry per address with sockets pending right now, usually none: a socket is
 * pending from its upgrade until its token is checked, milliseconds for a client that sends one.
 * Addresses are counted by `addressKey`: an IPv6 host usually has a whole /64 to pick from.
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

  countFor(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }
}

/**
 * What PendingSockets counts by: an IPv4 address as it is (IPv4-mapped IPv6 too), an IPv6
 * address by its /64, which is what one host or one customer usually gets; anything else as it is.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  const bare = address.split('%')[0];
  if (!isIPv6(bare)) return address;
  const [head, tail] = bare.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
