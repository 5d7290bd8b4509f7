import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { SeqSet } from './bitset.js';
import { PendingSends } from './pending-sends.js';
import type { GcSummary } from './gc-log.js';
import { Histogram, type LatencySummary, round } from './stats.js';
import { type BenchChat, type BenchUser, type Topology, senderOf } from './topology.js';

/**
 * The load client: one WebSocket per user, in this process, speaking the contract's frames. The
 * same code drives the bare relay and Parley; only the URLs and tokens differ.
 */

const CONNECT_CONCURRENCY = 50;
const READY_TIMEOUT_MS = 15_000;
const SYNC_TIMEOUT_MS = 30_000;
/** Open-loop phases queue behind this many unacknowledged sends per sender rather than grow without bound. */
const OPEN_LOOP_IN_FLIGHT_CAP = 64;
/** Deliveries arriving this long after a fixed-rate phase still count as delivered for delivered/offered. */
const DELIVERY_GRACE_MS = 1000;
/** Sends of one chat that can wait for their ack and deliveries at once (far above the in-flight caps). */
const PENDING_PER_CHAT = 4096;

interface Phase {
  name: string;
  /** Sends made in [windowStart, windowEnd) are measured; earlier ones are warm-up. */
  windowStart: number;
  windowEnd: number;
  running: boolean;
  offeredRate: number | undefined;
  offered: number;
  offeredDeliveries: number;
  sent: number;
  notSent: number;
  acked: number;
  errors: number;
  acksInWindow: number;
  deliveriesInWindow: number;
  duplicated: number;
  outOfOrder: number;
  deliveriesOnTime: number;
  deliveries: number;
  ack: Histogram;
  delivery: Histogram;
  ackFromSchedule: Histogram;
  deliveryFromSchedule: Histogram;
  /** Deliveries per second of the window, for the chart and for spotting stalls. */
  timeline: number[];
  /** Send→delivery latency by the second of the window in which the message was due (scheduled). */
  deliveryBySecond: Histogram[];
  cpuStart: CpuReading;
  cpuSeconds: CpuReading;
}

/** CPU seconds used so far: by this process (the load client), the server under test, the database and Redis, the machine. */
interface CpuReading {
  client: number;
  server: number;
  database: number;
  machine: number;
}

export interface CpuProbes {
  server: () => number;
  database: () => number;
  machine: () => number;
  /** The server's garbage collections between two times on the shared clock (performance.timeOrigin + now). */
  serverGc?: (from: number, to: number) => GcSummary;
  /** The same for this process, the load client. */
  clientGc?: (from: number, to: number) => GcSummary;
}

export interface PhaseResult {
  name: string;
  seconds: number;
  offeredRate?: number;
  offered?: number;
  sent: number;
  notSent: number;
  acked: number;
  errors: number;
  /** Deliveries during this phase that a connection already had, or that came after a higher seq. */
  duplicated: number;
  outOfOrder: number;
  sentPerSecond: number;
  deliveredPerSecond: number;
  deliveredPerOffered?: number;
  ack: LatencySummary;
  delivery: LatencySummary;
  ackFromSchedule?: LatencySummary;
  deliveryFromSchedule?: LatencySummary;
  /** When the measured window began (ISO time), to set against the server's or PostgreSQL's logs. */
  windowStartedAt: string;
  timeline: number[];
  /** p99 send→delivery (ms) of the messages sent in each second of the window: where in the phase the tail is. */
  p99BySecond: number[];
  /** CPU the load client used during the window, in cores (1.0 = one core busy). */
  clientCores: number;
  /** CPU the server process(es) used during the window, in cores. */
  serverCores: number;
  /** CPU PostgreSQL and Redis processes used during the window (whoever they served), in cores. */
  databaseCores: number;
  /** CPU everything else on the machine used during the window (other tenants), in cores. */
  otherCores: number;
  /** The server's garbage collections during the window (summed over instances; longest is the longest of any). */
  serverGc?: GcSummary;
  /** The load client's garbage collections during the window. */
  clientGc?: GcSummary;
  /** Not serialised: kept to merge across pairs for the chart. */
  histograms: { delivery: Histogram; deliveryFromSchedule: Histogram };
}

interface SendRecord {
  clientId: string;
  chat: ChatState;
  phase: Phase;
  sentAt: number;
  scheduledAt: number;
  measured: boolean;
  acked: boolean;
  deliveries: number;
}

interface ChatState {
  /** Its position in the client's list of chats (PendingSends numbers sends per chat by it). */
  index: number;
  chat: BenchChat;
  sender: Connection;
  inFlight: number;
  /** Scheduled times of fixed-rate sends waiting for a free slot. */
  backlog: number[];
  acked: SeqSet;
  duplicateSeqs: number;
}

class Connection {
  ws: WebSocket | undefined;
  received = new SeqSet();
  contiguous = -1;
  highest = -1;
  duplicates = 0;
  outOfOrder = 0;
  /** Set while reconnecting in the catch-up phase: those deliveries are not latency samples. */
  catchingUp = false;
  /** Dropped and re-synced in the catch-up phase. */
  reconnected = false;
  onReady: (() => void) | undefined;
  onSynced: (() => void) | undefined;
  closedByServer: string | undefined;

  constructor(readonly user: BenchUser) {}

  /** Records a delivered seq; says what was wrong with it, if anything. */
  noteSeq(seq: number): 'ok' | 'duplicate' | 'out of order' {
    if (!this.received.add(seq)) {
      this.duplicates++;
      return 'duplicate';
    }
    let verdict: 'ok' | 'out of order' = 'ok';
    if (seq < this.highest) {
      this.outOfOrder++;
      verdict = 'out of order';
    } else this.highest = seq;
    if (this.contiguous < 0) this.contiguous = seq - 1;
    while (this.received.has(this.contiguous + 1)) this.contiguous++;
    return verdict;
  }
}

export interface CorrectnessResult {
  /** Expected (connection, message) deliveries that never arrived. */
  lost: number;
  /** Deliveries of a message a connection already had. */
  duplicated: number;
  /** Deliveries that arrived after a higher seq of the same chat on the same connection. */
  outOfOrder: number;
  /** The part of the two above on connections that were dropped and re-synced in the catch-up phase. */
  duplicatedOnResynced: number;
  outOfOrderOnResynced: number;
  /** Deliveries of seqs nobody was acknowledged for. */
  unexpected: number;
  /** Chats whose acknowledged seqs in this run are not one gap-free run. */
  chatsWithSeqGaps: number;
  /** Seqs acknowledged twice. */
  duplicateSeqAcks: number;
  acked: number;
  ackedPerChat: number[];
  unexpectedCloses: string[];
}

export interface CatchUpResult {
  disconnected: number;
  reconnectMs: LatencySummary;
  syncMs: LatencySummary;
}

export class LoadClient {
  private readonly connections: Connection[];
  private readonly chats: ChatState[];
  private readonly chatById = new Map<string, ChatState>();
  private readonly pending: PendingSends<SendRecord>;
  private phase: Phase | undefined;
  private counter = 0;
  readonly otherFrames = new Map<string, number>();
  readonly errorSamples: string[] = [];
  /** The first few duplicate or out-of-order deliveries, for the report. */
  readonly disorderSamples: string[] = [];
  private unknownAcks = 0;
  /** Totals across phases, for the progress line. */
  totalAcked = 0;
  totalDelivered = 0;

  constructor(
    private readonly topology: Topology,
    private readonly wsUrls: string[],
    private readonly window: number,
    private readonly cpu: CpuProbes,
  ) {
    this.connections = topology.users.map((u) => new Connection(u));
    this.chats = topology.chats.map((chat, index) => ({
      index,
      chat,
      sender: this.connections[senderOf(chat)],
      inFlight: 0,
      backlog: [],
      acked: new SeqSet(),
      duplicateSeqs: 0,
    }));
    for (const c of this.chats) this.chatById.set(c.chat.id, c);
    this.pending = new PendingSends(this.chats.length, PENDING_PER_CHAT);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get openConnections(): number {
    return this.connections.filter((c) => c.ws?.readyState === WebSocket.OPEN).length;
  }

  /** Opens every user's connection, at most CONNECT_CONCURRENCY handshakes at a time. */
  async connectAll(progress: (done: number) => void): Promise<void> {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < this.connections.length) {
        await this.connect(this.connections[next++]);
        progress(++done);
      }
    };
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  }

  /** Connects a few throw-away sockets, so first-use costs (JIT, pools) land before the memory baseline. */
  async warmUp(count: number): Promise<void> {
    const spare = this.connections.slice(0, count).map((c) => new Connection(c.user));
    await Promise.all(spare.map((c) => this.connect(c)));
    await Promise.all(spare.map((c) => this.close(c)));
  }

  /** On interrupt: stop sending and drop every socket at once, so the servers can shut down quickly. */
  abort(): void {
    if (this.phase) this.phase.running = false;
    for (const conn of this.connections) conn.ws?.terminate();
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.connections.map((c) => this.close(c)));
  }

  private connect(conn: Connection): Promise<void> {
    const url = this.wsUrls[conn.user.index % this.wsUrls.length];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`user ${conn.user.index}: no "ready" frame from ${url} within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${conn.user.token}` },
        perMessageDeflate: false,
        skipUTF8Validation: true,
      });
      conn.ws = ws;
      conn.closedByServer = undefined;
      conn.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.on('message', (data) => this.onFrame(conn, data as Buffer));
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`user ${conn.user.index}: ${url} refused the upgrade with HTTP ${res.statusCode}`));
      });
      ws.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`user ${conn.user.index}: ${url}: ${error.message}`));
      });
      ws.on('close', (code, reason) => {
        if (conn.ws === ws && !(ws as { benchClosing?: boolean }).benchClosing) {
          conn.closedByServer = `${code} ${reason.toString()}`.trim();
        }
        clearTimeout(timer);
        reject(new Error(`user ${conn.user.index}: connection closed (${code} ${reason.toString()}) before "ready"`));
      });
    });
  }

  private async close(conn: Connection): Promise<void> {
    const ws = conn.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    (ws as { benchClosing?: boolean }).benchClosing = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 5000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000, 'bench done');
    });
  }

  private onFrame(conn: Connection, data: Buffer): void {
    const now = performance.now();
    let frame: any;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      this.countOther('(not JSON)');
      return;
    }
    switch (frame.type) {
      case 'new_message':
        return this.onNewMessage(conn, frame.message, now);
      case 'message_ack':
        return this.onAck(frame, now);
      case 'ready':
        return conn.onReady?.();
      case 'synced':
        return conn.onSynced?.();
      case 'error':
        return this.onError(frame);
      default:
        this.countOther(String(frame.type));
    }
  }

  private countOther(type: string): void {
    this.otherFrames.set(type, (this.otherFrames.get(type) ?? 0) + 1);
  }

  private onNewMessage(conn: Connection, message: { seq: number; clientId: string | null; chatId: string }, now: number): void {
    const verdict = conn.noteSeq(message.seq);
    this.totalDelivered++;
    if (verdict !== 'ok') this.noteDisorder(conn, verdict, message.seq);
    const record = message.clientId ? this.pending.get(message.clientId) : undefined;
    if (!record) return;
    const phase = record.phase;
    phase.deliveries++;
    if (now >= phase.windowStart && now < phase.windowEnd) {
      phase.deliveriesInWindow++;
      phase.timeline[Math.floor((now - phase.windowStart) / 1000)]++;
    }
    if (record.measured && now < phase.windowEnd + DELIVERY_GRACE_MS) phase.deliveriesOnTime++;
    if (record.measured && !conn.catchingUp) {
      phase.delivery.record(now - record.sentAt);
      phase.deliveryFromSchedule.record(now - record.scheduledAt);
      phase.deliveryBySecond[Math.floor((record.scheduledAt - phase.windowStart) / 1000)]?.record(now - record.sentAt);
    }
    if (++record.deliveries >= record.chat.chat.members.length && record.acked) this.pending.delete(message.clientId!);
  }

  private noteDisorder(conn: Connection, verdict: 'duplicate' | 'out of order', seq: number): void {
    const phase = this.phase;
    if (phase) {
      if (verdict === 'duplicate') phase.duplicated++;
      else phase.outOfOrder++;
    }
    if (this.disorderSamples.length < 8) {
      this.disorderSamples.push(
        `${phase?.name ?? 'between phases'}: user ${conn.user.index}${conn.reconnected ? ' (re-synced)' : ''} got seq ${seq} ${verdict === 'duplicate' ? 'again' : `after ${conn.highest}`} in chat ${conn.user.chat}`,
      );
    }
  }

  private onAck(frame: { clientId: string; message: { seq: number } }, now: number): void {
    const record = this.pending.get(frame.clientId);
    if (!record || record.acked) {
      this.unknownAcks++;
      return;
    }
    record.acked = true;
    this.totalAcked++;
    const { phase, chat } = record;
    phase.acked++;
    if (!chat.acked.add(frame.message.seq)) chat.duplicateSeqs++;
    if (now >= phase.windowStart && now < phase.windowEnd) phase.acksInWindow++;
    if (record.measured) {
      phase.ack.record(now - record.sentAt);
      phase.ackFromSchedule.record(now - record.scheduledAt);
    }
    if (record.deliveries >= chat.chat.members.length) this.pending.delete(frame.clientId);
    chat.inFlight--;
    this.refill(chat, now);
  }

  private onError(frame: { id?: string; code?: string; message?: string }): void {
    if (this.errorSamples.length < 5) this.errorSamples.push(`${frame.code}: ${frame.message}`);
    const record = frame.id ? this.pending.get(frame.id) : undefined;
    if (!record) return this.countOther('error');
    this.pending.delete(frame.id!);
    record.phase.errors++;
    record.chat.inFlight--;
    this.refill(record.chat, performance.now());
  }

  /** After an ack: the closed loop sends again at once; the open loop sends its oldest overdue message. */
  private refill(chat: ChatState, now: number): void {
    const phase = this.phase;
    if (!phase?.running) return;
    if (phase.offeredRate === undefined) {
      if (now < phase.windowEnd && chat.inFlight < this.window) this.send(chat, now, now);
    } else if (chat.backlog.length > 0 && chat.inFlight < OPEN_LOOP_IN_FLIGHT_CAP) {
      this.send(chat, chat.backlog.shift()!, now);
    }
  }

  private send(chat: ChatState, scheduledAt: number, now: number): void {
    const phase = this.phase!;
    const ws = chat.sender.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      phase.notSent++;
      return;
    }
    const n = ++this.counter;
    const { clientId } = this.pending.add(chat.index, (clientId) => ({
      clientId,
      chat,
      phase,
      sentAt: now,
      scheduledAt,
      measured: scheduledAt >= phase.windowStart,
      acked: false,
      deliveries: 0,
    }));
    chat.inFlight++;
    phase.sent++;
    ws.send(
      JSON.stringify({
        type: 'send_message',
        id: clientId,
        chatId: chat.chat.id,
        clientId,
        text: `bench message ${n} in chat ${chat.chat.index}: the quick brown fox jumps over the lazy dog`,
      }),
    );
  }

  private newPhase(name: string, warmupMs: number, seconds: number, offeredRate?: number): Phase {
    const now = performance.now();
    return {
      name,
      windowStart: now + warmupMs,
      windowEnd: now + warmupMs + seconds * 1000,
      running: true,
      offeredRate,
      offered: 0,
      offeredDeliveries: 0,
      sent: 0,
      notSent: 0,
      acked: 0,
      errors: 0,
      acksInWindow: 0,
      deliveriesInWindow: 0,
      duplicated: 0,
      outOfOrder: 0,
      deliveriesOnTime: 0,
      deliveries: 0,
      ack: new Histogram(),
      delivery: new Histogram(),
      ackFromSchedule: new Histogram(),
      deliveryFromSchedule: new Histogram(),
      timeline: new Array(Math.ceil(seconds)).fill(0),
      deliveryBySecond: Array.from({ length: Math.ceil(seconds) }, () => new Histogram()),
      cpuStart: this.readCpu(),
      cpuSeconds: { client: 0, server: 0, database: 0, machine: 0 },
    };
  }

  /** Phase 1: every sender keeps `window` sends in flight, sending again on each ack, for `seconds` after a warm-up. */
  async saturate(seconds: number, warmupMs: number, drainMs: number): Promise<PhaseResult> {
    const phase = (this.phase = this.newPhase('saturation', warmupMs, seconds));
    const now = performance.now();
    for (const chat of this.chats) for (let i = 0; i < this.window; i++) this.send(chat, now, now);
    await sleep(Math.max(0, phase.windowStart - performance.now()));
    phase.cpuStart = this.readCpu();
    await sleep(Math.max(0, phase.windowEnd - performance.now()));
    phase.running = false;
    this.endWindow(phase);
    await this.drain(drainMs);
    return this.result(phase, seconds);
  }

  /**
   * Fixed offered rate (open loop): message k is due at start + k/rate, round-robin over chats,
   * whether or not earlier ones were answered; latency is also measured from that due time, so a
   * stalled server is not excused by a client that politely waited (coordinated omission).
   */
  async fixedRate(
    name: string,
    rate: number,
    seconds: number,
    drainMs: number,
    during?: (elapsedMs: number) => Promise<void> | void,
  ): Promise<PhaseResult> {
    const phase = (this.phase = this.newPhase(name, 0, seconds, rate));
    const intervalMs = 1000 / rate;
    const total = Math.max(1, Math.round(rate * seconds));
    let k = 0;
    let duringTask: Promise<void> | undefined;
    while (k < total) {
      const now = performance.now();
      if (now >= phase.windowEnd || !phase.running) break;
      while (k < total && phase.windowStart + k * intervalMs <= now) {
        const chat = this.chats[k % this.chats.length];
        const due = phase.windowStart + k * intervalMs;
        phase.offered++;
        phase.offeredDeliveries += chat.chat.members.length;
        if (chat.inFlight < OPEN_LOOP_IN_FLIGHT_CAP && chat.backlog.length === 0) this.send(chat, due, now);
        else chat.backlog.push(due);
        k++;
      }
      if (during && !duringTask) duringTask = Promise.resolve(during(now - phase.windowStart));
      await sleep(1);
    }
    phase.offered += total - k;
    phase.notSent += total - k;
    await sleep(Math.max(0, phase.windowEnd - performance.now()));
    phase.running = false;
    this.endWindow(phase);
    for (const chat of this.chats) {
      phase.notSent += chat.backlog.length;
      chat.backlog = [];
    }
    await duringTask;
    await this.drain(drainMs);
    return this.result(phase, seconds);
  }

  /**
   * Phase 3: drops `users`' connections, keeps sending at `rate`, reconnects them a third of the
   * way in and sends `sync` with each one's last gap-free seq; the final check then shows whether
   * every message reached every connection exactly once, in order.
   */
  async catchUp(users: number[], rate: number, seconds: number, drainMs: number): Promise<{ phase: PhaseResult; catchUp: CatchUpResult }> {
    const victims = users.map((u) => this.connections[u]);
    await Promise.all(victims.map((c) => this.close(c)));
    const reconnect = new Histogram();
    const sync = new Histogram();
    const phase = await this.fixedRate('catch-up', rate, seconds, drainMs, async (elapsedMs) => {
      await sleep(Math.max(0, (seconds * 1000) / 3 - elapsedMs));
      let next = 0;
      const worker = async () => {
        while (next < victims.length) {
          const conn = victims[next++];
          conn.catchingUp = true;
          conn.reconnected = true;
          const started = performance.now();
          await this.connect(conn);
          const connected = performance.now();
          reconnect.record(connected - started);
          const chat = this.chats[conn.user.chat];
          const lastSeq = conn.contiguous >= 0 ? conn.contiguous : chat.acked.size > 0 ? chat.acked.min - 1 : 0;
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`user ${conn.user.index}: no "synced" within ${SYNC_TIMEOUT_MS / 1000} s`)),
              SYNC_TIMEOUT_MS,
            );
            conn.onSynced = () => {
              clearTimeout(timer);
              resolve();
            };
            conn.ws!.send(JSON.stringify({ type: 'sync', id: `sync-${conn.user.index}`, chats: { [chat.chat.id]: lastSeq } }));
          });
          sync.record(performance.now() - connected);
        }
      };
      await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
    });
    for (const c of victims) c.catchingUp = false;
    return { phase, catchUp: { disconnected: victims.length, reconnectMs: reconnect.summary(), syncMs: sync.summary() } };
  }

  private endWindow(phase: Phase): void {
    const end = this.readCpu();
    for (const key of ['client', 'server', 'database', 'machine'] as const) phase.cpuSeconds[key] = end[key] - phase.cpuStart[key];
  }

  private readCpu(): CpuReading {
    const own = process.cpuUsage();
    return {
      client: (own.user + own.system) / 1e6,
      server: this.cpu.server(),
      database: this.cpu.database(),
      machine: this.cpu.machine(),
    };
  }

  /** Waits until every send is acknowledged and delivered to every member, or `timeoutMs` passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.pending.size > 0 && performance.now() < deadline) await sleep(20);
    return this.pending.size === 0;
  }

  private result(phase: Phase, seconds: number): PhaseResult {
    const fixed = phase.offeredRate !== undefined;
    return {
      name: phase.name,
      seconds,
      ...(fixed ? { offeredRate: round(phase.offeredRate!, 1), offered: phase.offered } : {}),
      sent: phase.sent,
      notSent: phase.notSent,
      acked: phase.acked,
      errors: phase.errors,
      duplicated: phase.duplicated,
      outOfOrder: phase.outOfOrder,
      sentPerSecond: round(phase.acksInWindow / seconds, 1),
      deliveredPerSecond: round(phase.deliveriesInWindow / seconds, 1),
      ...(fixed ? { deliveredPerOffered: round(phase.offeredDeliveries ? phase.deliveriesOnTime / phase.offeredDeliveries : NaN, 4) } : {}),
      ack: phase.ack.summary(),
      delivery: phase.delivery.summary(),
      ...(fixed ? { ackFromSchedule: phase.ackFromSchedule.summary(), deliveryFromSchedule: phase.deliveryFromSchedule.summary() } : {}),
      windowStartedAt: new Date(performance.timeOrigin + phase.windowStart).toISOString(),
      timeline: phase.timeline,
      p99BySecond: phase.deliveryBySecond.map((h) => round(h.quantile(0.99), 2)),
      clientCores: round(phase.cpuSeconds.client / seconds, 2),
      serverCores: round(phase.cpuSeconds.server / seconds, 2),
      databaseCores: round(Math.max(0, phase.cpuSeconds.database) / seconds, 2),
      otherCores: round(
        Math.max(0, phase.cpuSeconds.machine - phase.cpuSeconds.server - phase.cpuSeconds.client - phase.cpuSeconds.database) / seconds,
        2,
      ),
      ...(this.cpu.serverGc
        ? { serverGc: this.cpu.serverGc(performance.timeOrigin + phase.windowStart, performance.timeOrigin + phase.windowEnd) }
        : {}),
      ...(this.cpu.clientGc
        ? { clientGc: this.cpu.clientGc(performance.timeOrigin + phase.windowStart, performance.timeOrigin + phase.windowEnd) }
        : {}),
      histograms: { delivery: phase.delivery, deliveryFromSchedule: phase.deliveryFromSchedule },
    };
  }

  /** Compares what every connection received with what was acknowledged in this run. */
  correctness(): CorrectnessResult {
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let unexpected = 0;
    let duplicatedOnResynced = 0;
    let outOfOrderOnResynced = 0;
    const unexpectedCloses: string[] = [];
    for (const conn of this.connections) {
      const chat = this.chats[conn.user.chat];
      lost += conn.received.missingFrom(chat.acked);
      unexpected += conn.received.size - countCommon(conn.received, chat.acked);
      duplicated += conn.duplicates;
      outOfOrder += conn.outOfOrder;
      if (conn.reconnected) {
        duplicatedOnResynced += conn.duplicates;
        outOfOrderOnResynced += conn.outOfOrder;
      }
      if (conn.closedByServer && unexpectedCloses.length < 5) unexpectedCloses.push(`user ${conn.user.index}: ${conn.closedByServer}`);
    }
    let chatsWithSeqGaps = 0;
    let duplicateSeqAcks = 0;
    for (const chat of this.chats) {
      if (chat.acked.size > 0 && chat.acked.max - chat.acked.min + 1 !== chat.acked.size) chatsWithSeqGaps++;
      duplicateSeqAcks += chat.duplicateSeqs;
    }
    const ackedPerChat = this.chats.map((c) => c.acked.size + c.duplicateSeqs);
    return {
      lost,
      duplicated,
      outOfOrder,
      duplicatedOnResynced,
      outOfOrderOnResynced,
      unexpected,
      chatsWithSeqGaps,
      duplicateSeqAcks,
      acked: ackedPerChat.reduce((a, b) => a + b, 0),
      ackedPerChat,
      unexpectedCloses,
    };
  }

  status(): string {
    const evicted =
      this.pending.evicted > 0
        ? `, ${this.pending.evicted} sends dropped from tracking (over ${PENDING_PER_CHAT} waiting in one chat)`
        : '';
    return `${this.openConnections} open, ${this.pending.size} in flight${evicted}`;
  }

  get unknownAckCount(): number {
    return this.unknownAcks;
  }
}

function countCommon(a: SeqSet, b: SeqSet): number {
  let common = 0;
  for (let n = a.min; n <= a.max; n++) if (a.has(n) && b.has(n)) common++;
  return common;
}
