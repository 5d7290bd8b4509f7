import addressparser from 'nodemailer/lib/addressparser/index.js';

export interface Mailbox {
  /** The address as written (a quoted local part keeps its quotes). */
  address: string;
  /** What follows the last @. */
  domain: string;
}

/**
 * One mailbox from a header value such as `Parley <no-reply@example.com>`, `no-reply@example.com`
 * or `"john doe"@example.com`; undefined for anything else (no address, several, a line break).
 * How MAIL_FROM is judged at start, and where the Message-ID takes its domain from.
 */
export function parseMailbox(text: string): Mailbox | undefined {
  if (/[\r\n]/.test(text)) return undefined;
  const parsed = addressparser(text);
  const [first] = parsed;
  if (parsed.length !== 1 || !first || !('address' in first) || !first.address) return undefined;
  const address = first.address;
  const at = address.lastIndexOf('@');
  const [local, domain] = [address.slice(0, at), address.slice(at + 1)];
  // The local part may be quoted (and hold spaces or @ then); the domain is a host name (in any
  // script) or an [address literal].
  const localOk = /^"[^"]+"$/.test(local) || /^[^@\s"<>()[\],;:\\]+$/.test(local);
  const domainOk = /^\[[^\]\s]+\]$/.test(domain) || /^[^@\s"<>()[\],;:\\]+$/.test(domain);
  if (at <= 0 || !localOk || !domainOk) return undefined;
  return { address, domain };
}
