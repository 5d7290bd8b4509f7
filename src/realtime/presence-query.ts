/**
 * Who is online right now (has at least one open WebSocket connection on any instance). The
 * realtime layer provides it; features ask through this port and never reach into sockets.
 */
export abstract class PresenceQuery {
  abstract onlineAmong(userIds: string[]): Promise<Set<string>>;
}
