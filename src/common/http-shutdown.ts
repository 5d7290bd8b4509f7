import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How long requests in flight may take to finish once the server stops listening. */
const GRACE_MS = 5_000;

/**
 * Node's server.close() waits for every open connection, and counts a socket that never carried
 * a request (browsers open such sockets ahead of need) as busy until headersTimeout, 60 s or more.
 * Once the server has stopped listening this drops idle connections at once and the rest after a
 * grace period, so a restart takes seconds, not a minute.
 *
 * From the moment the shutdown starts, every answer says `Connection: close`: a client keeping the
 * connection would send its next request down a socket about to be closed, and get a reset where
 * it could have connected again (to another instance, or this one restarted).
 */
@Injectable()
export class HttpShutdown implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private stopping = false;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    // Before Express's own listener, which may answer within the same call.
    this.server()?.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (this.stopping) res.setHeader('Connection', 'close');
    });
  }

  /** Destroy hooks run first at shutdown; requests keep coming during the later ones (the WebSocket drain). */
  onModuleDestroy(): void {
    this.stopping = true;
  }

  private server(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }

  beforeApplicationShutdown(): void {
    const server = this.server();
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
