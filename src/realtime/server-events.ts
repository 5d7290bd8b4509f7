import type { ErrorBody } from '../common/errors/error-body.js';

/**
 * The `id` a client may put on a frame; the server echoes it on that frame's reply or error so
 * the client can pair them.
 */
export type FrameId = string | number;

/** A message as it travels on the wire (the same fields as the REST resource). */
export interface MessageFrame {
  id: string;
  chatId: string;
  seq: number;
  senderId: string;
  clientId: string | null;
  text: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

/**
 * A chat in chat_created / chat_updated. The contract leaves its fields open: every one has
 * `{ id, type, title, memberCount, updatedAt }`, with a direct chat's title per member (the other
 * person's name, as in GET /chats); chat_created has the rest of a GET /chats item too.
 */
export interface ChatFrame {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  memberCount: number;
  updatedAt: string;
  peer?: unknown;
  lastMessage?: unknown;
  unreadCount?: number;
}

/**
 * Every server → client frame, by `type`. `RealtimeService.send` only takes these, so a typo in
 * an event name or a missing field fails the build rather than a client. Features refine their
 * payloads here; keep the README's protocol section in step (docs/API.md is the contract as given).
 */
export interface ServerEvents {
  ready: { userId: string; sessionId: string };
  pong: Record<never, never>;
  /** `retryAfter` (seconds) on a rate limit: what REST says in the Retry-After header. */
  error: ErrorBody & { retryAfter?: number };
  message_ack: { clientId: string | null; message: MessageFrame };
  new_message: { message: MessageFrame };
  message_updated: { message: MessageFrame };
  message_deleted: { chatId: string; id: string; seq: number };
  typing: { chatId: string; userId: string; isTyping: boolean };
  read: { chatId: string; userId: string; seq: number };
  message_seen: { chatId: string; seq: number };
  chat_created: { chat: ChatFrame };
  chat_updated: { chat: ChatFrame };
  chat_deleted: { chatId: string };
  member_added: { chatId: string; userId: string; role?: string };
  member_removed: { chatId: string; userId: string };
  presence: { userId: string; online: boolean; lastSeenAt: string | null };
  synced: { chats: Record<string, number> };
}

export type ServerEventType = keyof ServerEvents;

/** One frame: `{ type, ...payload }`, discriminated by `type`. */
export type ServerEvent<K extends ServerEventType = ServerEventType> = {
  [T in K]: { type: T } & ServerEvents[T];
}[K];
