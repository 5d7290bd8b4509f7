import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { defaultIfEmpty, isObservable, lastValueFrom, tap } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { ForbiddenError, UnauthenticatedError, UnavailableError } from '../common/errors/domain-error.js';
import { resolveError } from '../common/errors/error-body.js';
import { logFailure } from '../common/errors/outage-log.js';
import { clientNetwork } from '../common/http/client-network.js';
import { providedAnywhere } from '../common/provided-anywhere.js';
import { type BoundHandler, CloseCode, Connection, connectionOf, type FrameContext, readMissedWith } from './connection.js';
import { DirectHandlers } from './direct-handlers.js';
import { ExpiryWheel } from './expiry-wheel.js';
import { AuthFrameDto } from './dto/auth-frame.dto.js';
import { behindPlaceOf, FanOut, type FanOutMessage } from './fan-out.js';
import { MissedMessages } from './missed-messages.js';
import { type ClientFrame, parseFrame, type ParsedFrame, unknownType } from './frames.js';
import { PreparedFrame } from './prepared-frame.js';
import { PendingSockets } from './pending-sockets.js';
import { PresenceService } from './presence.service.js';
import { within } from '../common/concurrency/within.js';
import type { PresenceEntry } from './presence-store.js';
import { RealtimeSettings } from './realtime-settings.js';
import type { FrameId } from './server-events.js';
import { SocketAuthenticator, type SocketIdentity } from './socket-authenticator.js';
import { SocketRegistry } from './socket-registry.js';
import type { ReadMissed } from './stream-tracker.js';
import { validateFrame } from './validate-frame.js';
import { answerFrameError } from './ws-error.filter.js';
import { errorMessage } from '../common/errors/error-message.js';

/** How long a revoked session is remembered, to catch a socket whose authentication was in flight when the revocation arrived. */
const REVOKED_MEMORY_MS = 60_000;
/**
 * Each heartbeat interval is worked through in this many slices, a slice of the sockets at a
 * time: pinging every socket at once is one write per socket in one go, which with tens of
 * thousands of sockets holds up every other frame for a noticeable moment.
 */
const HEARTBEAT_SLICES = 10;

/**
 * The life of every socket on this instance: authentication (handshake or first frame), frames
 * in order to the gateways' handlers, liveness pings, token expiry, fan-out deliveries and
 * closes, and the graceful close on shutdown. The WsAdapter hands each new socket to `accept`.
 */
@Injectable()
export class ConnectionManager implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Realtime');
  private ticker?: NodeJS.Timeout;
  /** The heartbeat slice the next tick works on; a socket's slice is fixed when it is accepted. */
  private heartbeatSlice = 0;
  private nextSocketSlice = 0;
  private draining = false;
  private readonly revokedSessions = new Map<string, number>();
  /** Reads a gap in a connection's live messages from the store (see StreamTracker). */
  private readMissed?: ReadMissed;
  /** Token expiry of every authenticated socket, checked once a second. */
  private readonly expiries = new ExpiryWheel<Connection>((connection) => connection.close(CloseCode.UNAUTHENTICATED, 'TOKEN_EXPIRED'));
  private expiryTicker?: NodeJS.Timeout;
  private readonly pending: PendingSockets;
  // Socket listeners and the slow-consumer report, shared by every socket rather than made per
  // socket: ws calls listeners with the socket as `this`.
  private readonly onSocketMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onSocketPong: (this: WebSocket) => void;
  private readonly onSocketClose: (this: WebSocket, code: number, reason: Buffer) => void;
  private readonly onSlowConsumer = (slow: Connection) =>
    this.logger.warn(
      `Closing socket ${slow.id} of user ${slow.userId ?? '-'} with 1013: over ${this.settings.maxBufferedBytes} bytes waiting to be sent, or ${this.settings.maxKeptBytes} kept back behind a catch-up (client reads too slowly).`,
    );

  constructor(
    private readonly settings: RealtimeSettings,
    private readonly registry: SocketRegistry,
    private readonly authenticator: SocketAuthenticator,
    private readonly presence: PresenceService,
    private readonly directHandlers: DirectHandlers,
    fanOut: FanOut,
    private readonly moduleRef: ModuleRef,
  ) {
    this.pending = new PendingSockets(settings.maxPendingPerAddress);
    fanOut.listen((message) => this.onFanOut(message));
    fanOut.onMissed(() => this.closeAfterMissedEvents());
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the socket
    const manager = this;
    this.onSocketMessage = function (data, isBinary) {
      const connection = connectionOf(this);
      if (connection) manager.onMessage(connection, data, isBinary);
    };
    this.onSocketPong = function () {
      const connection = connectionOf(this);
      if (connection) connection.awaitingPong = false;
    };
    this.onSocketClose = function (code, reason) {
      const connection = connectionOf(this);
      if (connection) manager.onClose(connection, code, reason);
    };
  }

  onApplicationBootstrap(): void {
    // From the messages module; switched off, there are no chat streams to have gaps in.
    const missed = providedAnywhere(this.moduleRef, MissedMessages);
    this.readMissed = missed && readMissedWith(missed);
    this.ticker = setInterval(() => void this.heartbeat(), Math.max(1, Math.round(this.settings.heartbeatMs / HEARTBEAT_SLICES)));
    this.ticker.unref();
    this.expiryTicker = setInterval(() => this.expiries.tick(), 1000);
    this.expiryTicker.unref();
  }

  /** `address`: the client's, as the HTTP side sees it (TRUST_PROXY applied); 'unknown' when the socket had none to read. */
  accept(socket: WebSocket, request: IncomingMessage, address: string): Connection {
    const connection = new Connection(randomUUID(), socket, this.settings, this.onSlowConsumer, request.socket, this.readMissed);
    connection.heartbeatSlice = this.nextSocketSlice;
    this.nextSocketSlice = (this.nextSocketSlice + 1) % HEARTBEAT_SLICES;
    socket.on('close', this.onSocketClose);
    if (this.draining) {
      connection.close(CloseCode.RESTARTING, 'SERVER_RESTARTING');
      return connection;
    }
    const key = clientNetwork(address);
    if (!this.pending.take(key)) {
      connection.close(CloseCode.TRY_AGAIN_LATER, 'TOO_MANY_PENDING');
      return connection;
    }
    connection.pendingAddress = key;
    this.registry.track(connection);
    socket.on('message', this.onSocketMessage);
    socket.on('pong', this.onSocketPong);

    const credential = this.authenticator.fromHandshake(request);
    if (credential.kind === 'refused') {
      connection.close(CloseCode.FORBIDDEN, credential.code);
    } else if (credential.kind === 'token') {
      // Queued like a frame: whatever the client sends meanwhile waits for the answer.
      void connection.enqueue(() => this.authenticate(connection, credential.token));
    } else {
      connection.setTimer('auth', this.settings.authTimeoutMs, () => connection.close(CloseCode.UNAUTHENTICATED, 'AUTH_TIMEOUT'));
    }
    return connection;
  }

  /**
   * Events from other instances were lost on the way, for sockets unknown: every authenticated
   * socket closes with 1012, so its client reconnects and catches up with `sync` (the contract's
   * way back to exactly once), rather than stay open with a silent hole.
   */
  private closeAfterMissedEvents(): void {
    for (const connection of this.registry.all()) {
      if (connection.isAuthenticated) connection.close(CloseCode.RESTARTING, 'EVENTS_MISSED');
    }
  }

  /**
   * Stops taking sockets, and closes each with 1012 once its frames in flight are done (or the
   * grace is over): one socket busy with a long `sync` does not keep the others open, answering
   * SERVER_RESTARTING to everything, when they could be reconnecting elsewhere.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    clearInterval(this.ticker);
    clearInterval(this.expiryTicker);
    const connections = this.registry.all();
    await Promise.all(
      connections.map(async (connection) => {
        await within(connection.idle(), this.settings.shutdownGraceMs);
        connection.close(CloseCode.RESTARTING, 'SERVER_RESTARTING');
      }),
    );
    const closedInTime = await within(Promise.all(connections.map((c) => c.whenClosed())), 3_000);
    if (!closedInTime) {
      for (const connection of connections) connection.terminate();
      // A dropped socket's 'close', and with it the user's offline update, comes a turn later:
      // wait for it, or the drain below finds nothing yet and the stores close under the update.
      await within(Promise.all(connections.map((c) => c.whenClosed())), 1_000);
    }
    await this.presence.drain(5_000);
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    connection.awaitingPong = false;
    if (!connection.isOpen) return;
    const parsed = parseFrame(data, isBinary);
    const arrivedWhileDraining = this.draining;
    void connection.enqueue(
      (admitNext) =>
        this.handle(connection, parsed, arrivedWhileDraining, admitNext).catch((error: unknown) =>
          answerFrameError(error, connection, parsed.ok ? parsed.frame : { id: parsed.id }),
        ),
      byteLength(data),
    );
  }

  private async handle(connection: Connection, parsed: ParsedFrame, draining: boolean, admitNext: () => void): Promise<void> {
    if (!connection.isOpen) return;
    if (!parsed.ok) {
      connection.sendError(parsed.error, parsed.id);
      return;
    }
    const { frame } = parsed;
    if (draining) {
      connection.sendError(
        new UnavailableError('SERVER_RESTARTING', 'The server is restarting; send this again once reconnected.'),
        frame.id,
      );
      return;
    }
    if (frame.type === 'auth') return this.onAuthFrame(connection, frame);
    if (!connection.isAuthenticated) {
      connection.sendError(
        new UnauthenticatedError('UNAUTHENTICATED', 'Authenticate first: send { "type": "auth", "token": "<accessToken>" }.'),
        frame.id,
      );
      return;
    }
    const handler = connection.handler(frame.type);
    if (!handler) {
      connection.sendError(unknownType(frame.type), frame.id);
      return;
    }
    await this.invoke(connection, handler, frame, admitNext);
  }

  private async invoke(connection: Connection, handler: BoundHandler, frame: ClientFrame, admitNext: () => void): Promise<void> {
    const context: FrameContext = { type: frame.type, id: frame.id, connectionId: connection.id, admitNext };
    const direct = this.directHandlers.get(frame.type);
    try {
      // A direct handler (see DirectHandlers) throws; Nest's handler proxy has already given its
      // errors to WsErrorFilter. Either resolves to the reply, or to an Observable of replies.
      const result = direct ? await direct(connection, frame.payload, context) : await handler(frame.payload, context);
      if (isObservable(result)) {
        await lastValueFrom(
          result.pipe(
            tap((reply) => this.reply(connection, reply, frame)),
            defaultIfEmpty(undefined),
          ),
        );
      } else {
        this.reply(connection, result, frame);
      }
    } catch (error) {
      // Answered as WsErrorFilter would: all a direct handler throws, and for Nest's handlers what
      // the filter let through. Only the frame's type and id are read (the context has the same).
      answerFrameError(error, connection, frame);
    }
  }

  private reply(connection: Connection, reply: unknown, frame: ClientFrame): void {
    if (reply === undefined || reply === null) return;
    if (typeof reply !== 'object' || typeof (reply as { type?: unknown }).type !== 'string') {
      this.logger.error(`The "${frame.type}" handler returned something other than a { type, ... } frame; nothing was sent.`);
      return;
    }
    connection.send(reply as { type: string }, frame.id);
  }

  private async onAuthFrame(connection: Connection, frame: ClientFrame): Promise<void> {
    let token: string;
    try {
      ({ token } = await validateFrame(AuthFrameDto, frame.payload));
    } catch (error) {
      connection.sendError(error, frame.id);
      return;
    }
    if (connection.isAuthenticated) return this.reauthenticate(connection, token, frame.id);
    connection.clearTimer('auth');
    await this.authenticate(connection, token, frame.id);
  }

  private async authenticate(connection: Connection, token: string, replyTo?: FrameId): Promise<void> {
    let identity: SocketIdentity;
    try {
      identity = await this.authenticator.verify(token);
    } catch (error) {
      const { body, unexpected, outage } = resolveError(error);
      if (unexpected) {
        logFailure(this.logger, error, outage, {
          answered: `Socket ${connection.id} could not be authenticated and was closed 1011`,
          entry: `Could not authenticate socket ${connection.id}: ${errorMessage(error)}`,
        });
        connection.close(CloseCode.INTERNAL, 'INTERNAL_ERROR');
      } else {
        connection.close(CloseCode.UNAUTHENTICATED, body.code);
      }
      return;
    }
    if (!connection.isOpen) return;
    if (this.revokedSessions.has(identity.sessionId)) {
      connection.close(CloseCode.UNAUTHENTICATED, 'SESSION_REVOKED');
      return;
    }
    // Each socket costs memory and a share of every fan-out: one user cannot open without bound.
    if (this.registry.openCountFor(identity.userId) >= this.settings.maxConnectionsPerUser) {
      connection.close(CloseCode.POLICY, 'TOO_MANY_CONNECTIONS');
      return;
    }
    connection.userId = identity.userId;
    connection.sessionId = identity.sessionId;
    connection.state = 'authenticated';
    this.noLongerPending(connection);
    this.scheduleExpiry(connection, identity.expiresAt);
    connection.holdStreams(this.settings.catchUpHoldMs);
    connection.deferUntilReady();
    this.registry.register(connection);
    await this.presence.connected({ userId: identity.userId, connectionId: connection.id });
    connection.sendReady({ type: 'ready', userId: identity.userId, sessionId: identity.sessionId }, replyTo);
  }

  /** A fresh access token for the same session pushes the socket's expiry back (no reconnect after a refresh). */
  private async reauthenticate(connection: Connection, token: string, replyTo?: FrameId): Promise<void> {
    let identity: SocketIdentity;
    try {
      identity = await this.authenticator.verify(token);
    } catch (error) {
      connection.sendError(error, replyTo);
      // The token may be of this very session, whose revocation this instance missed (fan-out is
      // at most once): it was just read as ended, so the socket is checked now, not at a heartbeat.
      if (error instanceof UnauthenticatedError && error.code === 'SESSION_REVOKED' && connection.sessionId)
        await this.closeEndedSessions([connection.sessionId]);
      return;
    }
    // Closed (or expired) while the token was checked: nothing to extend.
    if (!connection.isAuthenticated) return;
    if (identity.userId !== connection.userId || identity.sessionId !== connection.sessionId) {
      connection.sendError(
        new ForbiddenError('REAUTH_MISMATCH', 'This socket belongs to another session; open a new connection for this token.'),
        replyTo,
      );
      return;
    }
    this.scheduleExpiry(connection, identity.expiresAt);
    connection.send({ type: 'ready', userId: identity.userId, sessionId: identity.sessionId }, replyTo);
  }

  /** The socket closes (4401 TOKEN_EXPIRED) within a second after its token expires. */
  private scheduleExpiry(connection: Connection, expiresAt: number | undefined): void {
    if (expiresAt === undefined || !connection.isOpen) this.expiries.cancel(connection);
    else this.expiries.schedule(connection, expiresAt);
  }

  private noLongerPending(connection: Connection): void {
    if (connection.pendingAddress === undefined) return;
    this.pending.release(connection.pendingAddress);
    connection.pendingAddress = undefined;
  }

  private onClose(connection: Connection, code: number, reason: Buffer): void {
    // One line per socket, as a request has its access line: who, how it ended, how long it lasted
    // (closes for a bad or missing token among them).
    this.logger.log({
      msg: 'WebSocket closed',
      connectionId: connection.id,
      userId: connection.userId,
      sessionId: connection.sessionId,
      code,
      reason: reason.toString('utf8').slice(0, 123),
      durationMs: Date.now() - connection.openedAt,
    });
    this.noLongerPending(connection);
    connection.socketClosed();
    this.expiries.cancel(connection);
    this.registry.remove(connection);
    if (connection.userId) this.presence.disconnected({ userId: connection.userId, connectionId: connection.id });
  }

  private onFanOut(message: FanOutMessage): void {
    if (message.kind === 'close' && message.target.sessionIds) {
      const until = Date.now() + REVOKED_MEMORY_MS;
      for (const id of message.target.sessionIds) this.revokedSessions.set(id, until);
    }
    const targets = this.registry.select(
      message.kind === 'deliver' && message.repairUserIds
        ? Object.assign({}, message.target, { userIds: message.repairUserIds })
        : message.target,
    );
    if (message.kind === 'close') {
      for (const connection of targets) connection.close(message.code, message.reason);
      return;
    }
    // Framed once for all of them; a single socket takes the string as is.
    const frame = targets.length > 1 ? new PreparedFrame(message.frame) : message.frame;
    // An edit or delete travels as `after` and waits in its stream like the message it is about.
    const position = message.stream ?? (message.after && { id: message.after.id, seq: message.after.seq, about: true as const });
    const place = behindPlaceOf(message);
    for (const connection of targets) {
      if (position) connection.sendInStream(position, frame);
      else if (message.behind) connection.sendBehind(message.behind, frame, place);
      else connection.sendRaw(frame);
    }
  }

  /**
   * Every `heartbeatMs`, for every socket (a slice of them per tick, see HEARTBEAT_SLICES): drop
   * it if it did not answer the previous ping (so a dead peer goes within two beats, under a
   * minute), otherwise ping it, refresh its presence and check that its session is still live.
   * Once per beat, sweep presence.
   */
  private async heartbeat(): Promise<void> {
    const slice = this.heartbeatSlice;
    this.heartbeatSlice = (slice + 1) % HEARTBEAT_SLICES;
    const now = Date.now();
    if (slice === 0) for (const [id, until] of this.revokedSessions) if (until < now) this.revokedSessions.delete(id);
    const alive: PresenceEntry[] = [];
    const sessions = new Set<string>();
    for (const connection of this.registry.all()) {
      if (connection.heartbeatSlice !== slice || !connection.isOpen) continue;
      if (connection.awaitingPong) {
        connection.terminate();
        continue;
      }
      connection.awaitingPong = true;
      try {
        connection.socket.ping();
      } catch {
        connection.terminate();
        continue;
      }
      if (connection.isAuthenticated) {
        alive.push({ userId: connection.userId!, connectionId: connection.id });
        sessions.add(connection.sessionId!);
      }
    }
    const stillOpen = (entry: PresenceEntry) => this.registry.get(entry.connectionId)?.isOpen === true;
    await Promise.all([this.presence.heartbeat(alive, slice === 0, stillOpen), this.closeEndedSessions([...sessions])]);
  }

  /**
   * Revocations reach sockets through fan-out, which across instances is Redis pub/sub: at most
   * once. So every heartbeat also asks the database which of the slice's sessions have ended, and
   * closes their sockets as a revocation would. A socket of a session revoked while its instance
   * missed the message (Redis away) closes within a heartbeat, not at its token's expiry.
   */
  private async closeEndedSessions(sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    let ended: string[];
    try {
      ended = await this.authenticator.endedSessions(sessionIds);
    } catch (error) {
      if (this.draining) return; // the database may be closing with the app
      this.logger.warn(
        `Could not check ${sessionIds.length} sessions for revocation (${errorMessage(error)}); their sockets stay open until a check succeeds. Check that the database (DATABASE_URL) is reachable.`,
      );
      return;
    }
    if (ended.length > 0)
      this.onFanOut({ kind: 'close', target: { sessionIds: ended }, code: CloseCode.UNAUTHENTICATED, reason: 'SESSION_REVOKED' });
  }
}

/** The size of a received frame as `ws` hands it over (one buffer, fragments, or an ArrayBuffer). */
function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, part) => n + part.length, 0);
  return data.byteLength;
}
