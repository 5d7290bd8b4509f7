import { PresenceQuery } from './presence-query.js';

/**
 * Connections refreshed in one store call (one Redis command): PresenceService hands `refresh` no
 * more at once, and the Redis store splits a longer list by it.
 */
export const REFRESH_BATCH = 500;

/** A user the sweep took offline, and when they were last known connected. */
export interface Lapsed {
  userId: string;
  lastSeenAt: Date;
}

export interface PresenceEntry {
  userId: string;
  connectionId: string;
}

/**
 * Counts every user's open connections across all instances. The answers to `connected` and
 * `disconnected` are the online/offline transitions: each is reported to exactly one caller,
 * however many instances race.
 */
export abstract class PresenceStore extends PresenceQuery {
  /** Records a connection; true when the user had none anywhere before it (came online). */
  abstract connected(entry: PresenceEntry): Promise<boolean>;

  /**
   * Forgets a connection; true when the user has none left anywhere (went offline). Also true for
   * a connection the store had lost track of (Redis restarted and kept nothing), so contacts hear
   * of a user going offline at worst twice (after a sweep), never not at all.
   */
  abstract disconnected(entry: PresenceEntry): Promise<boolean>;

  /**
   * Heartbeat: these connections are still open. Entries not refreshed in time lapse. Returns the
   * users it counted as online again, having lost track of them (Redis restarted and kept
   * nothing, or a sweep took them offline while their instance could not reach it): each once,
   * to one caller, who announces them online.
   */
  abstract refresh(entries: PresenceEntry[]): Promise<string[]>;

  /**
   * Users whose every connection lapsed without a goodbye (their instance crashed or was cut
   * off), with the last time one of them was refreshed: when the user was last known connected.
   * Each such user is returned once, to one caller, who announces them offline.
   */
  abstract sweep(): Promise<Lapsed[]>;
}
