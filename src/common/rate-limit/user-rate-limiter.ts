import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { RateLimitedError } from '../errors/domain-error.js';
import { AppConfig } from '../../config/app-config.js';
import { TokenBuckets } from './token-buckets.js';

export type UserLimit = 'messages' | 'chats' | 'sync' | 'search' | 'uploads' | 'reads';

/** What a refusal says, per limit (the OpenAPI document's examples say the same). */
export const USER_LIMIT_MESSAGES: Record<UserLimit, string> = {
  messages: 'You are sending or editing messages too fast; wait a moment.',
  chats: 'You are creating chats or adding members too fast; wait a moment.',
  sync: 'Too many chats synced; wait a moment before syncing again.',
  search: 'Too many searches; wait a moment.',
  uploads: 'Too many profile changes (avatar uploads, name changes); wait a moment.',
  reads: 'Too many read pointer moves (mark_read, POST /read); send one for the newest message seen, not one per message.',
};

/**
 * Per-user limits on what a signed-in user can do over and over: message writes (sends and edits,
 * REST and WebSocket alike; a repeated clientId, answered from what is stored, costs nothing),
 * creating chats and adding members (each puts chats and events in front of other people, who
 * did not ask), chats named in `sync` frames (each costs the store a membership check and a
 * history read), user searches, profile changes (avatar uploads and name changes, one bucket:
 * a new name is told to everyone one has a direct chat with), and read pointer moves (`mark_read`
 * and `POST /read` together: each costs a transaction, and one that moves tells every member).
 * Each is a token bucket of
 * RATE_LIMIT_<NAME>_PER_USER tokens refilled at that many per minute, so a user can burst up to
 * the limit and then go on at its pace. Counted in this instance's memory, not in Redis: a
 * message send must not wait for another round trip. With several instances a user whose devices
 * are connected to different ones gets the limit on each.
 */
@Injectable()
export class UserRateLimiter implements OnModuleDestroy {
  private readonly buckets: Record<UserLimit, TokenBuckets>;
  /** Token refunds per user: a repeat is free, but only as often as the limit itself (each still costs the store a lookup). */
  private readonly refunds: Record<UserLimit, TokenBuckets>;
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  constructor(config: AppConfig) {
    const perMinute = (n: number) => new TokenBuckets(n, n / 60);
    const { messagesPerUser, chatsPerUser, syncChatsPerUser, searchPerUser, uploadsPerUser, readsPerUser } = config.limits;
    const make = (): Record<UserLimit, TokenBuckets> => ({
      messages: perMinute(messagesPerUser),
      chats: perMinute(chatsPerUser),
      sync: perMinute(syncChatsPerUser),
      search: perMinute(searchPerUser),
      uploads: perMinute(uploadsPerUser),
      reads: perMinute(readsPerUser),
    });
    this.buckets = make();
    this.refunds = make();
  }

  /** Takes `cost` (one request, or for `sync` one per chat) from the user's `limit`, or throws 429 RATE_LIMITED with the seconds to wait. */
  consume(limit: UserLimit, userId: string, cost = 1): void {
    const wait = this.buckets[limit].take(userId, Date.now(), cost);
    if (wait !== undefined) throw new RateLimitedError(wait, 'RATE_LIMITED', USER_LIMIT_MESSAGES[limit]);
  }

  /**
   * Gives back what `consume` took, for a request that turned out to cost little (a repeated
   * clientId answered from what is stored): up to the limit's own rate of refunds, so repeats
   * cannot load the store without bound either.
   */
  giveBack(limit: UserLimit, userId: string): void {
    if (this.refunds[limit].take(userId) === undefined) this.buckets[limit].giveBack(userId);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    for (const buckets of [...Object.values(this.buckets), ...Object.values(this.refunds)]) buckets.sweep();
  }
}
