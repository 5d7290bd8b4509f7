import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long requests in flight may take to finish, from the start of the shutdown... */
const GRACE_MS = 5_000;
/** ...and at least this long after the server stops listening (it takes requests until then: the WebSocket drain may take long). */
const AFTER_CLOSE_MS = 2_000;
/**
 * A connection that has carried no request this long after it was opened is dropped once the
 * server stops listening: a request it was about to send would have arrived by then.
 */
const UNUSED_MS = 1_000;

/**
 * Node's server.close() waits for every open connection, and counts a socket that never carried
 * a request (browsers open such sockets ahead of need) as busy until headersTimeout, 60 s or more;
 * closeIdleConnections() does not count it idle either. Once the server has stopped listening this
 * drops idle connections and those that never carried a request at once, and the rest when the
 * grace period is over, so a restart takes seconds, not a minute. The grace period runs from the
 * start of the shutdown, alongside the WebSocket drain that comes before the server stops
 * listening, not after it; a request that came during a long drain still gets AFTER_CLOSE_MS.
 *
 * From the moment the shutdown starts, every answer says `Connection: close`: a client keeping the
 * connection would send its next request down a socket about to be closed, and get a reset where
 * it could have connected again (to another instance, or this one restarted).
 */
@Injectable()
export class HttpShutdown implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private stopping = false;
  private stoppingSince = 0;
  /** Open connections that have carried no request yet, with when they opened. */
  private readonly unused = new Map<Socket, number>();

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const server = this.server();
    if (!server) return;
    // One listener function for every socket (Node calls it with the socket as `this`), taken off
    // again at the socket's first request or upgrade: a WebSocket, open for hours, keeps nothing
    // of this (a closure each would cost every idle connection).
    const unused = this.unused;
    function forget(this: Socket): void {
      unused.delete(this);
    }
    const used = (socket: Socket) => {
      if (unused.delete(socket)) socket.removeListener('close', forget);
    };
    server.on('connection', (socket: Socket) => {
      unused.set(socket, Date.now());
      socket.on('close', forget);
    });
    // Before Express's own listener, which may answer within the same call.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      used(req.socket);
      if (this.stopping) res.setHeader('Connection', 'close');
    });
    // A WebSocket is the gateway's to close (with its handshake). Only beside the gateway's own
    // listener: with none, Node answers an upgrade as a plain request, which one here would stop.
    if (server.listenerCount('upgrade') > 0) server.prependListener('upgrade', (req: IncomingMessage) => used(req.socket));
  }

  /** Destroy hooks run first at shutdown; requests keep coming during the later ones (the WebSocket drain). */
  onModuleDestroy(): void {
    this.stopping = true;
    this.stoppingSince = Date.now();
  }

  private server(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }

  beforeApplicationShutdown(): void {
    const server = this.server();
    if (!server) return;
    const started = this.stoppingSince || Date.now();
    let closedAt: number | undefined;
    const sweep = setInterval(() => {
      if (server.listening) return;
      const now = Date.now();
      closedAt ??= now;
      server.closeIdleConnections();
      for (const [socket, openedAt] of this.unused) if (now - openedAt >= UNUSED_MS) socket.destroy();
      if (now - started >= GRACE_MS && now - closedAt >= AFTER_CLOSE_MS) {
        server.closeAllConnections();
        clearInterval(sweep);
      }
    }, 100);
    sweep.unref();
    server.once('close', () => clearInterval(sweep));
  }
}
