import { isIPv6 } from 'node:net';

const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/**
 * A client's address as people write it: an IPv4 client of a dual-stack listener arrives as
 * `::ffff:1.2.3.4`, shown as 1.2.3.4. Others as they are.
 */
export function displayAddress(ip: string): string {
  return IPV4_MAPPED.exec(ip)?.[1] ?? ip;
}

/**
 * What a per-address limit counts by: an IPv4 address as is (also when written IPv4-mapped,
 * `::ffff:1.2.3.4`); an IPv6 address as its /64, which one client holds whole: counting its
 * addresses apart would give it 2^64 budgets. Anything else as is; no address, 'unknown'.
 */
export function clientNetwork(ip: string | null | undefined): string {
  if (!ip) return 'unknown';
  const mapped = IPV4_MAPPED.exec(ip);
  if (mapped) return mapped[1];
  const bare = ip.split('%')[0]; // a zone (fe80::1%eth0) names the interface, not the host
  if (!isIPv6(bare)) return ip;
  const [head, tail] = bare.split('::');
  // An embedded IPv4 address (64:ff9b::198.51.100.1) stands for two groups.
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
