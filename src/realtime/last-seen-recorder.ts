/**
 * Where presence keeps when a user was last seen (coming online, going offline): a port the users
 * feature binds, so that realtime knows nothing of users beyond it.
 */
export abstract class LastSeenRecorder {
  /**
   * Stamps the user's last-seen time with `at`, unless a later stamp is kept already. Returns the
   * time kept (later than `at` when a later stamp came first), or undefined for no such user.
   */
  abstract stampLastSeen(userId: string, at: Date): Promise<Date | undefined>;
}
