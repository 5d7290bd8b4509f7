/** The one WebSocket endpoint, on the HTTP port; every gateway shares it. */
export const WS_PATH = '/ws';

/**
 * The WebSocket endpoint's limits and timings. Fixed by the contract or chosen for it; a class
 * (provided by RealtimeModule) so a test module can swap in shorter timings.
 */
export class RealtimeSettings {
  /** Larger frames close the socket with 1009 (the contract's 64 KiB). */
  readonly maxFrameBytes: number = 64 * 1024;
  /** A socket without a cookie or bearer token must send `{ type: "auth" }` this soon, or it is closed with 4401. */
  readonly authTimeoutMs: number = 5_000;
  /**
   * After authentication, live new_message frames wait this long for the client's `sync` (or
   * until it is done), so a reconnecting client gets missed history before newer messages.
   */
  readonly catchUpHoldMs: number = 1_000;
  /** Protocol pings go out this often; a socket that has not answered the previous one by then is dropped. */
  readonly heartbeatMs: number = 25_000;
  /** How long a connection keeps its user online in Redis without a heartbeat (a crashed instance's users lapse after this). */
  readonly presenceTtlMs: number = 60_000;
  /** Bytes waiting to be sent to one client beyond which it is too slow and is closed with 1013. */
  readonly maxBufferedBytes: number = 1024 * 1024;
  /**
   * Bytes of live frames one connection keeps back beyond which it is too slow too (1013): those
   * held behind a `sync` in progress, which lasts as long as the client takes to read it, and
   * those waiting for a gap. Generous, since a quick client's `sync` of a busy chat holds some.
   */
  readonly maxKeptBytes: number = 8 * 1024 * 1024;
  /**
   * With several instances, a chat's messages published on different instances can reach a
   * socket out of seq order (one crossed Redis, the other did not). A live new_message that
   * overtook an earlier one waits this long for it before it is written anyway.
   */
  readonly reorderWaitMs: number = 200;
  /** Frames received but not yet handled beyond which the server stops reading from that socket. */
  readonly maxQueuedFrames: number = 32;
  /** Bytes of those frames beyond which it stops reading too: 32 frames of 64 KiB each would be 2 MiB per socket. */
  readonly maxQueuedFrameBytes: number = 256 * 1024;
  /** Sockets one user may have open on one instance; one more is closed with 1008 TOO_MANY_CONNECTIONS. */
  readonly maxConnectionsPerUser: number = 32;
  /**
   * Sockets from one client address (after TRUST_PROXY) not authenticated yet; one more is closed
   * with 1013 TOO_MANY_PENDING. High enough for a crowd behind one NAT reconnecting at once (a
   * socket with a token is pending for milliseconds), low enough that one host cannot hold
   * thousands of tokenless sockets open for authTimeoutMs each.
   */
  readonly maxPendingPerAddress: number = 256;
  /**
   * On shutdown, how long a socket's frames in flight may take before it is closed regardless
   * (each socket is closed as soon as its own are done). With the 3 s close handshake after it, a
   * stop stays within the 5 s REST requests get.
   */
  readonly shutdownGraceMs: number = 2_000;

  constructor(overrides: Partial<RealtimeSettings> = {}) {
    Object.assign(this, overrides);
  }
}
