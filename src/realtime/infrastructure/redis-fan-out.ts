import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { FanOut, type FanOutListener, type FanOutMessage } from '../fan-out.js';

export const FAN_OUT_CHANNEL = 'parley:realtime:fan-out';

/**
 * Redis pub/sub between instances. Local sockets get the message directly (no round trip, and
 * they still get it while Redis is away); the others get it through the channel and skip what
 * they published themselves.
 *
 * Wire format: `<origin>\n<header JSON>\n<frame>`. The frame is appended raw rather than nested
 * in the JSON, so it is neither escaped twice nor parsed again on the receiving side.
 */
export class RedisFanOut extends FanOut {
  readonly mode = 'redis';
  private readonly origin = randomUUID();
  private readonly logger = new Logger('RealtimeFanOut');
  private listener: FanOutListener = () => undefined;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly channel = FAN_OUT_CHANNEL,
  ) {
    super();
  }

  /** Subscribes before the app serves anyone, so no message published after start-up is missed. */
  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.receive(payload);
    });
    await this.subscriber.subscribe(this.channel);
  }

  listen(listener: FanOutListener): void {
    this.listener = listener;
  }

  async publish(message: FanOutMessage): Promise<void> {
    this.listener(message);
    await this.publisher.publish(this.channel, encode(this.origin, message));
  }

  private receive(payload: string): void {
    let message: FanOutMessage | undefined;
    try {
      message = decode(payload, this.origin);
    } catch (error) {
      this.logger.warn(`Ignored a malformed fan-out message: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (message) this.listener(message);
  }
}

export function encode(origin: string, message: FanOutMessage): string {
  if (message.kind === 'deliver') {
    const { frame, ...header } = message;
    return `${origin}\n${JSON.stringify(header)}\n${frame}`;
  }
  return `${origin}\n${JSON.stringify(message)}\n`;
}

/** The message, or undefined when this instance published it itself. */
export function decode(payload: string, ownOrigin: string): FanOutMessage | undefined {
  const first = payload.indexOf('\n');
  const second = payload.indexOf('\n', first + 1);
  if (first < 0 || second < 0) throw new Error('missing header');
  if (payload.slice(0, first) === ownOrigin) return undefined;
  const header = JSON.parse(payload.slice(first + 1, second)) as FanOutMessage;
  if (header.kind === 'deliver') return Object.assign(header, { frame: payload.slice(second + 1) });
  if (header.kind === 'close') return header;
  throw new Error(`unknown kind ${JSON.stringify((header as { kind?: unknown }).kind)}`);
}
