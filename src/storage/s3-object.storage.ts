import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { Client } from 'minio';
import { UnavailableError } from '../common/errors/domain-error.js';
import { withTimeout } from '../common/concurrency/within.js';
import { SetupError } from '../common/errors/setup-error.js';
import { heldBackNote, LogThrottle } from '../common/logging/log-throttle.js';
import type { S3Config } from '../config/app-config.js';
import { assertValidObjectKey } from './object-key.js';
import { ObjectStorage, type StoredObject } from './object-storage.js';
import { errorMessage } from '../common/errors/error-message.js';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** The minio client has no request timeout of its own; without this a silent endpoint hangs the start. */
const START_TIMEOUT_MS = 10_000;
/** A socket to S3 silent this long is cut, so a request to an endpoint that stopped answering fails rather than hangs. */
const SOCKET_TIMEOUT_MS = 15_000;
/** While storage keeps failing, one log line per this long. */
const OUTAGE_LOG_MS = 10_000;
/** What a 503 STORAGE_UNAVAILABLE asks the client to wait (Retry-After), as for the database. */
const STORAGE_RETRY_AFTER_SECONDS = 5;
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const MISSING_OBJECT = new Set(['NoSuchKey', 'NotFound']);

/** An S3-compatible bucket (AWS S3, MinIO, …), addressed path-style so any endpoint name works. */
export class S3ObjectStorage extends ObjectStorage {
  readonly mode = 's3' as const;
  private readonly client: Client;
  private readonly bucket: string;
  private readonly region: string;
  /** Where S3_ENDPOINT points, for messages; never includes the keys. */
  readonly endpoint: string;
  private readonly logger = new Logger('ObjectStorage');
  /** An outage is one line per 10 s, not one per request. */
  private readonly outageLog = new LogThrottle(OUTAGE_LOG_MS);

  constructor(config: S3Config, options: { socketTimeoutMs?: number } = {}) {
    super();
    this.client = new Client({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
      pathStyle: true,
      transportAgent: timingOutAgent(config.useSSL, options.socketTimeoutMs ?? SOCKET_TIMEOUT_MS),
    });
    this.bucket = config.bucket;
    this.endpoint = `${config.useSSL ? 'https' : 'http'}://${config.endPoint}${config.port ? `:${config.port}` : ''}`;
    this.region = config.region;
  }

  /** Creates the bucket when it is missing; rejects with a sentence naming the variable to fix. */
  async init(): Promise<void> {
    try {
      await withTimeout(
        this.ensureBucket(),
        START_TIMEOUT_MS,
        () => new StartTimeoutError(`no answer within ${START_TIMEOUT_MS / 1000} s`),
      );
    } catch (error) {
      throw this.explainStartError(error);
    }
  }

  async check(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      throw new Error(`bucket ${this.bucket} does not exist at ${this.endpoint}`);
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    assertValidObjectKey(key);
    await this.explained(() => this.client.putObject(this.bucket, key, body, body.length, { 'Content-Type': contentType }));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidObjectKey(key);
    return this.explained(async () => {
      let stream: Readable;
      try {
        stream = await this.client.getObject(this.bucket, key);
      } catch (error) {
        if (MISSING_OBJECT.has(codeOf(error))) return undefined;
        throw error;
      }
      // getObject resolves with the HTTP response itself, so its headers carry the stored type.
      const header = (stream as Partial<IncomingMessage>).headers?.['content-type'];
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      return { body, contentType: header || DEFAULT_CONTENT_TYPE, size: body.length };
    });
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    await this.explained(async () => {
      try {
        await this.client.removeObject(this.bucket, key);
      } catch (error) {
        // S3 itself answers 204 for a missing key; some compatible servers answer 404 instead.
        if (!MISSING_OBJECT.has(codeOf(error))) throw error;
      }
    });
  }

  /**
   * An endpoint that is down, silent or overloaded is the client's 503 (try again later), said
   * in words; anything else (credentials, a vanished bucket) stays an error of ours, logged.
   */
  private async explained<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      // The minio client retries a 5xx answer once, then throws a plain Error saying so.
      const busy =
        ['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout'].includes(codeOf(error)) ||
        /Retryable HTTP status|Retries exhausted/.test(errorMessage(error));
      if (NETWORK_ERRORS.has(codeOf(error)) || busy) {
        // The client learns to try again; where storage is and what it said is for the log (as
        // on /health/ready): it names hosts and ports.
        this.outages(`Object storage at ${this.endpoint} (S3_ENDPOINT) did not answer: ${errorMessage(error)}`);
        throw new UnavailableError('STORAGE_UNAVAILABLE', 'Object storage did not answer; try again later.', STORAGE_RETRY_AFTER_SECONDS);
      }
      throw error;
    }
  }

  private outages(what: string): void {
    const held = this.outageLog.pass();
    if (held === undefined) return;
    this.logger.warn(`${what}; answering 503 STORAGE_UNAVAILABLE${heldBackNote(held)}`);
  }

  private async ensureBucket(): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return;
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (error) {
      // Another instance starting at the same moment may have made it first.
      if (codeOf(error) !== 'BucketAlreadyOwnedByYou') throw error;
    }
  }

  private explainStartError(error: unknown): Error {
    const code = codeOf(error);
    const detail = errorMessage(error);
    if (NETWORK_ERRORS.has(code) || error instanceof StartTimeoutError) {
      return new SetupError(`S3_ENDPOINT is unreachable: ${detail} (${this.endpoint}); start the S3/MinIO server or fix S3_ENDPOINT.`);
    }
    if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes(code)) {
      return new SetupError(
        `S3 at ${this.endpoint} refused the credentials: ${detail}; check S3_ACCESS_KEY and S3_SECRET_KEY, and that this key may use bucket ${this.bucket}.`,
      );
    }
    if (code === 'BucketAlreadyExists') {
      return new SetupError(`S3_BUCKET ${this.bucket} belongs to another account at ${this.endpoint}; choose another bucket name.`);
    }
    if ((error as Error)?.name === 'InvalidBucketNameError' || code === 'InvalidBucketName') {
      return new SetupError(
        `S3_BUCKET ${JSON.stringify(this.bucket)} is not a valid bucket name; use 3-63 lowercase letters, digits, dots and hyphens.`,
      );
    }
    const said = [detail, code].filter((part, i, all) => part && all.indexOf(part) === i).join(', ') || 'no reason given';
    // An answer without the request id every S3 answer carries: a web server, MinIO's console port.
    const s3Answer = error as { name?: unknown; amzRequestid?: unknown } | null;
    if (s3Answer?.name === 'S3Error' && !s3Answer.amzRequestid) {
      return new SetupError(
        `S3_ENDPOINT ${this.endpoint} answered, but not as an S3 API does (${said}); point it at the S3 API (MinIO: port 9000, not the console's 9001).`,
      );
    }
    if (
      ['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout'].includes(code) ||
      /Retryable HTTP status|Retries exhausted/.test(detail)
    ) {
      return new SetupError(`S3 at ${this.endpoint} is not taking requests just now (${said}); start again once it is.`);
    }
    // Anything else is not known here: its stack and cause are kept for the report.
    return new Error(`Could not prepare the S3 bucket ${this.bucket} at ${this.endpoint}: ${said}`, { cause: error });
  }
}

class StartTimeoutError extends Error {}

/** An agent whose sockets are cut after `ms` of silence, failing their request with ETIMEDOUT. */
function timingOutAgent(useSSL: boolean, ms: number): http.Agent {
  const Base = useSSL ? https.Agent : http.Agent;
  // `timeout` on the agent too: it sets each socket's timeout again whenever the socket goes back
  // to the pool (Node turns it off otherwise), and idle pooled sockets are closed rather than
  // kept forever.
  const agent = new Base({ keepAlive: true, timeout: ms });
  const pooled = agent as unknown as {
    createConnection: (...args: unknown[]) => Socket;
    reuseSocket: (socket: Socket, req: unknown) => void;
  };
  const create = pooled.createConnection.bind(agent);
  pooled.createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    socket.setTimeout(ms, () => socket.destroy(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' })));
    return socket;
  };
  // A server's `Keep-Alive: timeout=N` shortens an idle pooled socket's timeout to N - 1 s, and
  // Node leaves it so when the socket is taken for the next request (s3rver says 5: a reused
  // socket was cut after 4 s). Each request gets the whole `ms` again.
  const reuse = pooled.reuseSocket.bind(agent);
  pooled.reuseSocket = (socket: Socket, req: unknown) => {
    reuse(socket, req);
    socket.setTimeout(ms);
  };
  return agent;
}

function codeOf(error: unknown): string {
  const own = (error as { code?: unknown })?.code;
  if (typeof own === 'string') return own;
  // Node reports a refused dual-stack connect (localhost → ::1 and 127.0.0.1) as an AggregateError.
  if (error instanceof AggregateError) return error.errors.map(codeOf).find(Boolean) ?? '';
  return '';
}
