import { type INestApplication, type INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import proxyAddr from 'proxy-addr';
import type { WebSocket, WebSocketServer } from 'ws';
import { answerOnSocket } from '../common/http/client-errors.js';
import { type BoundHandler, connectionOf } from './connection.js';
import { ConnectionManager } from './connection-manager.js';
import { RealtimeSettings, WS_PATH } from './realtime-settings.js';

/**
 * Nest's `ws` adapter, narrowed to Parley's protocol. Every gateway shares the one `/ws`
 * server on the HTTP port; sockets go to the ConnectionManager, which reads `{ type, ... }`
 * frames itself (so it can answer bad JSON and unknown types, hold frames until the socket is
 * authenticated and keep them in order) and calls the gateways' `@SubscribeMessage(type)`
 * handlers, which this adapter collects per socket instead of letting each gateway read the
 * socket on its own.
 */
export class RealtimeWsAdapter extends WsAdapter {
  private readonly log = new Logger('Realtime');

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): WebSocketServer {
    const settings = this.app.get(RealtimeSettings, { strict: false });
    const manager = this.app.get(ConnectionManager, { strict: false });
    if (port !== 0 || options.path !== WS_PATH) {
      throw new Error(
        `A gateway asked for port ${port} path ${String(options.path)}; Parley serves every gateway on the HTTP port at ${WS_PATH}. Decorate it with @RealtimeGateway() instead of @WebSocketGateway(...).`,
      );
    }
    // No permessage-deflate: PreparedFrame relies on ws writing every frame at once (see there).
    const server = super.create(
      port,
      Object.assign({}, options, { maxPayload: settings.maxFrameBytes, perMessageDeflate: false }),
    ) as WebSocketServer;
    // The client's address as Express's req.ip has it: the same TRUST_PROXY, read off the same app.
    const trust = trustProxyOf(this.app);
    // Registered before any gateway's own listener, so the socket has its Connection when they run.
    // A client gone before its upgrade was handled has no address left to read.
    const addressOf = (request: IncomingMessage) => (proxyAddr(request, trust) as string | undefined) ?? 'unknown';
    server.on('connection', (socket: WebSocket, request: IncomingMessage) => manager.accept(socket, request, addressOf(request)));
    return server;
  }

  /** A client's protocol error (oversized or malformed frame) is its problem, not an error of ours. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) => socket.on('error', (error) => this.log.debug(`Socket error: ${error.message}`)));
    server.on('error', (error) => this.log.error(error));
    return server;
  }

  /**
   * Keeps the socket's handlers on its Connection (which calls them itself, in order). Nest's
   * `transform` is not needed: the ConnectionManager unwraps replies, Observables included.
   */
  override bindMessageHandlers(client: unknown, handlers: MessageMappingProperties[]): void {
    const connection = connectionOf(client);
    if (!connection) return;
    for (const { message, callback } of handlers) connection.setHandler(String(message), callback as BoundHandler);
  }

  /**
   * Nest hands every gateway a per-socket disconnect callback for `handleDisconnect`; Parley's
   * gateways have none (RealtimeGateway refuses it: the ConnectionManager owns the socket's life),
   * so none is kept: with several gateways that would be several closures per socket.
   */
  override bindClientDisconnect(): void {}

  /**
   * Nest's upgrade listener drops an upgrade to any other path without a word, and answers one
   * whose URL or Host it cannot read with a malformed status line. Parley's answers those in the
   * contract's shape (a 404 that names the path to use, a trailing slash being a common slip, or a
   * 400) and hands the rest to the WebSocket server at that path, as Nest's does.
   */
  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    const listeners = (this as unknown as { upgradeListenersRegistry: Map<number, UpgradeListener> }).upgradeListenersRegistry;
    const known = listeners.has(port);
    const server = super.ensureHttpServerExists(port, httpServer);
    const nests = listeners.get(port);
    const http = this.httpServersRegistry.get(port) as Server | undefined;
    if (known || !nests || !http) return server;
    const upgrade: UpgradeListener = (request, socket, head) => {
      let pathname: string;
      try {
        pathname = new URL(request.url ?? '', 'ws://localhost').pathname;
      } catch {
        return answerOnSocket(socket, 400, 'MALFORMED_REQUEST', 'The request URL cannot be read.');
      }
      const target = ((this.wsServersRegistry.get(port) ?? []) as Array<WebSocketServer & { path: string }>).find(
        (s) => s.path === pathname,
      );
      if (!target) return answerOnSocket(socket, 404, 'NOT_FOUND', `There is no WebSocket endpoint at ${pathname}; connect to ${WS_PATH}.`);
      target.handleUpgrade(request, socket, head, (ws) => target.emit('connection', ws, request));
    };
    http.off('upgrade', nests);
    http.on('upgrade', upgrade);
    listeners.set(port, upgrade); // so that dispose() takes this one off
    return server;
  }
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Express's compiled `trust proxy` setting (configureApp sets it from TRUST_PROXY); none trusted without an Express app. */
function trustProxyOf(app: INestApplicationContext): (address: string, hop: number) => boolean {
  const http = (app as Partial<INestApplication>).getHttpAdapter?.().getInstance() as { get?: (name: string) => unknown } | undefined;
  const trust = http?.get?.('trust proxy fn');
  return typeof trust === 'function' ? (trust as (address: string, hop: number) => boolean) : () => false;
}
