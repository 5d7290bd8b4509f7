import WebSocket, { type ClientOptions } from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export interface SocketOptions {
  token?: string;
  cookie?: string;
  origin?: string;
  headers?: Record<string, string>;
  ws?: ClientOptions;
}

/** A real `ws` client that records every frame, for tests to wait on. */
export class TestSocket {
  /** Frames not yet taken by next(). */
  readonly received: any[] = [];
  /** Every frame ever received, taken or not. */
  readonly history: any[] = [];
  readonly closed: Promise<Closed>;
  private readonly waiters = new Set<() => void>();
  private closedWith?: Closed;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? data : JSON.parse(data.toString());
      this.received.push(frame);
      this.history.push(frame);
      for (const wake of [...this.waiters]) wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        for (const wake of [...this.waiters]) wake();
        resolve(this.closedWith);
      }),
    );
    ws.on('error', () => undefined);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Takes the first received frame that matches (waiting for it); fails if the socket closes first. */
  next(match: (frame: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.received.findIndex(match);
        if (index >= 0) {
          done();
          resolve(this.received.splice(index, 1)[0]);
        } else if (this.closedWith) {
          done();
          reject(
            new Error(
              `socket closed (${this.closedWith.code} ${this.closedWith.reason}) before a matching frame; got ${JSON.stringify(this.received)}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  nextOfType(type: string, timeoutMs?: number): Promise<any> {
    return this.next((f) => f?.type === type, timeoutMs);
  }

  /** Sends a frame and resolves with the reply carrying its id. */
  async request(frame: Record<string, unknown>, id: string | number = Math.random().toString(36).slice(2)): Promise<any> {
    this.send({ ...frame, id });
    return this.next((f) => f?.id === id);
  }

  /** Every frame of this type received so far, taken by next() or not. */
  seen(type: string): any[] {
    return this.history.filter((f) => f?.type === type);
  }

  /** A ping round trip: every frame the server sent before the pong has arrived by then. */
  async settle(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  async close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}

/** Opens a socket (resolving once the upgrade succeeded, before any authentication). */
export async function openSocket(url: string, options: SocketOptions = {}): Promise<TestSocket> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin) headers.origin = options.origin;
  const ws = new WebSocket(url, { headers, ...options.ws });
  const socket = new TestSocket(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
  return socket;
}

/** Opens a socket with a bearer token and waits for `ready`. */
export async function connectReady(url: string, token: string, options: SocketOptions = {}): Promise<TestSocket> {
  const socket = await openSocket(url, { ...options, token });
  await socket.nextOfType('ready');
  return socket;
}

/** Resolves after `ms`; for "nothing arrives" checks, which wait a fixed while by nature. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true (or throws after timeoutMs). */
export async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await pause(stepMs);
  }
}
