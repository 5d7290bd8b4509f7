import { Injectable, Logger } from '@nestjs/common';
import { PresenceQuery } from './presence-query.js';
import { PresenceStore } from './presence-store.js';
import { SocketRegistry } from './socket-registry.js';
import { errorMessage } from '../common/errors/error-message.js';

/** After the store failed to answer, how long to answer from this instance alone before asking it again. */
export const PRESENCE_RETRY_MS = 5_000;

/**
 * Who is online, as features ask (profiles, chat lists): the shared store's answer, or while it
 * cannot give one (Redis down or stalled), this instance's own: users with an open socket here
 * are online, everyone else reads as offline. A chat list with a partial `online` is worth more
 * than a 500 for as long as Redis is away.
 *
 * After a failure the store is left alone for PRESENCE_RETRY_MS; then one request at a time asks
 * it again (the others answer from here meanwhile), so that while Redis is away at most one
 * request in each such period waits for its command timeout. The outage and its end are logged
 * once each: only an answer asked for after the latest failure ends it.
 */
@Injectable()
export class PresenceLookup extends PresenceQuery {
  private readonly logger = new Logger('Presence');
  /** While the store is failing: when to ask it again. */
  private retryAt: number | undefined;
  /** A request is asking the failing store whether it is back. */
  private probing = false;
  /** Failures so far: an answer to a question asked before the latest one proves nothing. */
  private failures = 0;

  constructor(
    private readonly store: PresenceStore,
    private readonly registry: SocketRegistry,
  ) {
    super();
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    const failing = this.retryAt !== undefined;
    if (failing && (this.probing || Date.now() < this.retryAt!)) return this.onlineHere(userIds);
    const asked = this.failures;
    this.probing ||= failing;
    try {
      const online = await this.store.onlineAmong(userIds);
      if (this.retryAt !== undefined && asked === this.failures) {
        this.logger.log('Presence is shared again: online reads come from Redis.');
        this.retryAt = undefined;
      }
      return online;
    } catch (error) {
      if (this.retryAt === undefined) {
        this.logger.warn(
          `Presence cannot be read (${errorMessage(error)}): until Redis answers, profiles and chat lists show online only the users connected to this instance.`,
        );
      }
      this.failures++;
      this.retryAt = Date.now() + PRESENCE_RETRY_MS;
      return this.onlineHere(userIds);
    } finally {
      if (failing) this.probing = false;
    }
  }

  private onlineHere(userIds: string[]): Set<string> {
    return new Set(userIds.filter((id) => this.registry.openCountFor(id) > 0));
  }
}
