import { randomBytes } from 'node:crypto';

/**
 * The load client's sends still waiting for their acknowledgement or deliveries, by clientId.
 *
 * Not a Map: on Node 20 a Map that lives as long as the process, with an entry added and deleted
 * per send, keeps its table in V8's old generation, and each time the table is resized the dead
 * old one still points at the sends it held until the next full collection, so they survive young
 * collections and are promoted. That made the load client's own full collections frequent, and
 * their pauses landed in the latencies it measured (docs/bench.md, fifth round). Here every chat
 * has a fixed ring of slots, allocated once, and a clientId names its chat and its number within
 * that chat, so finding a send is arithmetic and nothing is ever resized.
 *
 * A clientId is a UUID-shaped string (the contract asks for a UUID):
 * `<8 hex, random per client>-<chat, 4 hex>-4000-8000-<the chat's send number, 12 hex>`.
 * The random part keeps two runs against one database from reusing a clientId, which Parley would
 * take for a retry.
 */
export class PendingSends<R extends { clientId: string }> {
  private readonly prefix = randomBytes(4).toString('hex');
  private readonly rings: Array<Array<R | undefined>>;
  private readonly sent: number[];
  /** Sends waiting now. */
  size = 0;
  /** Sends still waiting when their slot came round again, and dropped (never expected: see perChat). */
  evicted = 0;

  /** `perChat` bounds how many sends of one chat can wait at once (in flight and awaiting deliveries). */
  constructor(
    chats: number,
    private readonly perChat = 4096,
  ) {
    if (chats > 0x10000) throw new Error(`the load client can name sends of at most 65,536 chats, not ${chats}`);
    this.rings = Array.from({ length: chats }, () => new Array<R | undefined>(perChat).fill(undefined));
    this.sent = new Array<number>(chats).fill(0);
  }

  /** Makes the next send of `chat` (0-based) with `make(clientId)` and keeps it. */
  add(chat: number, make: (clientId: string) => R): R {
    const n = this.sent[chat]++;
    const clientId = `${this.prefix}-${chat.toString(16).padStart(4, '0')}-4000-8000-${n.toString(16).padStart(12, '0')}`;
    const record = make(clientId);
    const ring = this.rings[chat];
    const slot = n % this.perChat;
    if (ring[slot] !== undefined) {
      this.evicted++;
      this.size--;
    }
    ring[slot] = record;
    this.size++;
    return record;
  }

  get(clientId: string): R | undefined {
    const found = this.locate(clientId);
    return found && found.ring[found.slot];
  }

  delete(clientId: string): void {
    const found = this.locate(clientId);
    if (!found || found.ring[found.slot] === undefined) return;
    found.ring[found.slot] = undefined;
    this.size--;
  }

  private locate(clientId: string): { ring: Array<R | undefined>; slot: number } | undefined {
    if (clientId.length !== 36 || !clientId.startsWith(this.prefix)) return undefined;
    const ring = this.rings[parseInt(clientId.slice(9, 13), 16)];
    if (!ring) return undefined;
    const slot = parseInt(clientId.slice(24), 16) % this.perChat;
    return ring[slot]?.clientId === clientId ? { ring, slot } : undefined;
  }
}
