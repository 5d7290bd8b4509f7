import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';

/** How long requests in flight may take to finish once the server stops listening. */
const GRACE_MS = 5_000;

/**
 * Node's server.close() waits for every open connection, and counts a socket that never carried
 * a request (browsers open such sockets ahead of need) as busy until headersTimeout, 60 s or more.
 * Once the server has stopped listening this drops idle connections at once and the rest after a
 * grace period, so a restart takes seconds, not a minute.
 */
@Injectable()
export class HttpShutdown implements BeforeApplicationShutdown {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  beforeApplicationShutdown(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    const started = Date.now();
    const sweep = setInterval(() => {
      if (server.listening) return;
      server.closeIdleConnections();
      if (Date.now() - started >= GRACE_MS) {
        server.closeAllConnections();
        clearInterval(sweep);
      }
    }, 100);
    sweep.unref();
    server.once('close', () => clearInterval(sweep));
  }
}
