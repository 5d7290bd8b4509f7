/** Published when sessions stop being valid (sign-out, revoke, reset, refresh reuse, the session cap). Realtime closes their sockets. */
export class SessionsRevokedEvent {
  constructor(
    readonly userId: string,
    /** The revoked sessions. */
    readonly sessionIds: string[],
  ) {}
}
