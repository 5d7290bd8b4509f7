/**
 * Who hears about a user's presence changes: the users who share a chat with them. The chats
 * module provides it; while none is provided, presence changes are recorded (last_seen_at) but
 * not broadcast.
 */
export abstract class PresenceAudience {
  abstract contactsOf(userId: string): Promise<string[]>;
}
