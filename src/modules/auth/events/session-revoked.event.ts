/** Published when sessions stop being valid (sign-out, revoke, reset, refresh reuse). Realtime closes their sockets. */
export class SessionsRevokedEvent {
  constructor(
    readonly userId: string,
    /** The revoked sessions; every session of the user when `all` is true. */
    readonly sessionIds: string[],
    readonly all: boolean,
  ) {}
}
