import { Injectable, Logger } from '@nestjs/common';
import { PresenceQuery } from './presence-query.js';
import { PresenceStore } from './presence-store.js';
import { SocketRegistry } from './socket-registry.js';

/** After the store failed to answer, how long to answer from this instance alone before asking it again. */
export const PRESENCE_RETRY_MS = 5_000;

/**
 * Who is online, as features ask (profiles, chat lists): the shared store's answer, or while it
 * cannot give one (Redis down or stalled), this instance's own: users with an open socket here
 * are online, everyone else reads as offline. A chat list with a partial `online` is worth more
 * than a 500 for as long as Redis is away.
 *
 * After a failure the store is left alone for PRESENCE_RETRY_MS, so that only one request in
 * that time waits for Redis's command timeout. The outage and its end are logged once each.
 */
@Injectable()
export class PresenceLookup extends PresenceQuery {
  private readonly logger = new Logger('Presence');
  /** While the store is failing: when to ask it again. */
  private retryAt: number | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly registry: SocketRegistry,
  ) {
    super();
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    if (this.retryAt !== undefined && Date.now() < this.retryAt) return this.onlineHere(userIds);
    try {
      const online = await this.store.onlineAmong(userIds);
      if (this.retryAt !== undefined) this.logger.log('Presence is shared again: online reads come from Redis.');
      this.retryAt = undefined;
      return online;
    } catch (error) {
      if (this.retryAt === undefined) {
        this.logger.warn(
          `Presence cannot be read (${error instanceof Error ? error.message : String(error)}): until Redis answers, profiles and chat lists show online only the users connected to this instance.`,
        );
      }
      this.retryAt = Date.now() + PRESENCE_RETRY_MS;
      return this.onlineHere(userIds);
    }
  }

  private onlineHere(userIds: string[]): Set<string> {
    return new Set(userIds.filter((id) => this.registry.openCountFor(id) > 0));
  }
}
