import { Injectable } from '@nestjs/common';
import type { Connection } from './connection.js';

/**
 * Which connections a fan-out message is for. Every given criterion must hold: users AND
 * sessions; `exceptConnectionId` then removes one (typically the sender's own).
 */
export interface DeliveryTarget {
  userIds?: string[];
  sessionIds?: string[];
  exceptConnectionId?: string;
}

/** The sockets on this instance, by id, by user and by session. Other instances keep their own. */
@Injectable()
export class SocketRegistry {
  private readonly byId = new Map<string, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly bySession = new Map<string, Set<Connection>>();

  /** Every socket, authenticated or not yet: liveness pings and shutdown cover them all. */
  track(connection: Connection): void {
    this.byId.set(connection.id, connection);
  }

  /** Files an authenticated socket under its user and session. */
  register(connection: Connection): void {
    if (!connection.userId || !connection.sessionId) throw new Error('register() needs an authenticated connection');
    this.byId.set(connection.id, connection);
    addTo(this.bySession, connection.sessionId, connection);
    addTo(this.byUser, connection.userId, connection);
  }

  /** Forgets a socket. */
  remove(connection: Connection): void {
    this.byId.delete(connection.id);
    if (connection.sessionId) removeFrom(this.bySession, connection.sessionId, connection);
    if (connection.userId) removeFrom(this.byUser, connection.userId, connection);
  }

  get(connectionId: string): Connection | undefined {
    return this.byId.get(connectionId);
  }

  all(): Connection[] {
    return [...this.byId.values()];
  }

  /** For tests. */
  countFor(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /** The user's sockets not yet closing (one closing can take its time to be gone). */
  openCountFor(userId: string): number {
    let open = 0;
    for (const connection of this.byUser.get(userId) ?? []) if (connection.isOpen) open++;
    return open;
  }

  select(target: DeliveryTarget): Connection[] {
    if (target.userIds && !target.sessionIds) return this.ofUsers(target.userIds, target.exceptConnectionId);
    let found: Iterable<Connection>;
    if (target.sessionIds) {
      found = target.sessionIds.flatMap((id) => [...(this.bySession.get(id) ?? [])]);
    } else if (target.userIds) {
      found = target.userIds.flatMap((id) => [...(this.byUser.get(id) ?? [])]);
    } else {
      return [];
    }
    const users = target.userIds && new Set(target.userIds);
    const sessions = target.sessionIds && new Set(target.sessionIds);
    const result = new Set<Connection>();
    for (const connection of found) {
      if (!connection.isAuthenticated || connection.id === target.exceptConnectionId) continue;
      if (users && !users.has(connection.userId!)) continue;
      if (sessions && !sessions.has(connection.sessionId!)) continue;
      result.add(connection);
    }
    return [...result];
  }

  /** The common case (every device of some users), without the intermediate sets. */
  private ofUsers(userIds: string[], exceptConnectionId: string | undefined): Connection[] {
    const result: Connection[] = [];
    const seen = userIds.length > 1 ? new Set<string>() : undefined;
    for (const userId of userIds) {
      if (seen) {
        if (seen.has(userId)) continue;
        seen.add(userId);
      }
      for (const connection of this.byUser.get(userId) ?? []) {
        if (connection.isAuthenticated && connection.id !== exceptConnectionId) result.push(connection);
      }
    }
    return result;
  }
}

function addTo(index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(connection);
}

function removeFrom(index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(connection);
  if (set.size === 0) index.delete(key);
}
