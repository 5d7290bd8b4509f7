import { type Lapsed, type PresenceEntry, PresenceStore } from '../presence-store.js';

/** One instance: a user is online while this process holds one of their connections. */
export class InProcessPresenceStore extends PresenceStore {
  private readonly connections = new Map<string, Set<string>>();

  async connected({ userId, connectionId }: PresenceEntry): Promise<boolean> {
    let set = this.connections.get(userId);
    if (!set) this.connections.set(userId, (set = new Set()));
    set.add(connectionId);
    return set.size === 1;
  }

  async disconnected({ userId, connectionId }: PresenceEntry): Promise<boolean> {
    const set = this.connections.get(userId);
    set?.delete(connectionId);
    if (set && set.size > 0) return false;
    this.connections.delete(userId);
    return true;
  }

  async refresh(): Promise<string[]> {
    return []; // nothing here is ever lost track of
  }

  async sweep(): Promise<Lapsed[]> {
    return [];
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.connections.has(id)));
  }
}
