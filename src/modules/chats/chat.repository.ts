import type { Chat, ChatSummary, Member, MemberRole } from './domain/chat.js';

/**
 * The permission check of a change, run inside its transaction once the chat is locked (or, on
 * MongoDB, on the snapshot every other change to the chat conflicts with): a role checked before
 * could be gone by then. `allow` throws (a DomainError) to refuse; `actor` is undefined when the
 * actor is no longer a member.
 */
export interface ActorCheck {
  actorId: string;
  allow(actor: Member | undefined): void;
}

/** What removing a member does (see ChatRepository.removeMember). */
export type RemovalPlan = { deleteChat: true } | { deleteChat: false; successors: string[] };

export interface RemovalOutcome {
  /** The chat went with its last member. */
  deleted: boolean;
  /** Who is still a member (none when deleted). */
  remaining: string[];
  /** The chat's last seq when the member left: the messages up to it were theirs (0 when deleted). */
  lastSeq: number;
  /** The chat's version after the removal (0 when deleted): see Chat.version. */
  version: number;
}

/** What adding members did (see ChatRepository.addMembers). */
export interface MembersAdded {
  /** Those actually added (not members before). */
  added: string[];
  /** Everyone who is a member afterwards. */
  memberIds: string[];
  /** The chat's last seq then: the joiners' first message is the next. */
  lastSeq: number;
  /** The chat's version after the addition (unchanged when nobody was added): see Chat.version. */
  version: number;
}

export interface ChatListCursor {
  activityAt: string;
  id: string;
}

/**
 * Where chats and their members live. One adapter per store (TypeORM/PostgreSQL, Mongo); every
 * adapter passes test/contracts/chat-repository.contract.ts. Operations that must be atomic are single calls.
 */
export abstract class ChatRepository {
  /** The one direct chat of the pair, created if missing; `created` tells which. Safe under races. */
  abstract findOrCreateDirect(id: string, userA: string, userB: string): Promise<{ chat: Chat; created: boolean }>;
  /** Throws ConflictError CHAT_TITLE_TAKEN when the owner already owns a group of that title. */
  abstract createGroup(chat: { id: string; title: string; ownerId: string }, memberIds: string[]): Promise<Chat>;
  abstract findById(id: string): Promise<Chat | undefined>;
  abstract membership(chatId: string, userId: string): Promise<Member | undefined>;
  /** Of these chats, those the user is a member of, each with its last seq: one query, for `sync`. */
  abstract lastSeqsOfMember(userId: string, chatIds: string[]): Promise<Map<string, number>>;
  abstract members(chatId: string): Promise<Member[]>;
  /** The caller's view of one chat (as in the list), or undefined when not a member. */
  abstract summary(chatId: string, userId: string): Promise<ChatSummary | undefined>;
  abstract listForUser(userId: string, limit: number, after?: ChatListCursor): Promise<ChatSummary[]>;
  /**
   * The chat as the rename left it; `changed` false (and nothing written: no version, no activity)
   * when it had that title already. Throws ConflictError CHAT_TITLE_TAKEN, CHAT_NOT_FOUND when the chat is gone.
   */
  abstract rename(chatId: string, title: string, check: ActorCheck): Promise<{ chat: Chat; changed: boolean }>;
  /**
   * Deletes the chat and its members, and its messages: these right after the commit, in the
   * background (a long history would outgrow a transaction), and unreachable meanwhile, since
   * every read goes through a membership. Returns the member ids it had.
   */
  abstract delete(chatId: string, check: ActorCheck): Promise<string[]>;
  /**
   * Adds those not yet members (as `member`), under the chat's lock (see MembersAdded). Throws CHAT_FULL (nothing added) when that would make more than
   * `maxMembers`, CHAT_NOT_FOUND when the chat is gone.
   */
  abstract addMembers(chatId: string, userIds: string[], maxMembers: number, check: ActorCheck): Promise<MembersAdded>;
  /**
   * Takes `userId` out of the chat in one atomic step, decided on the members as they are once
   * the chat is locked against every other change to it (concurrent leaves and removals each see
   * the others' outcome). `decide` gets them in members() order; it may throw (a DomainError:
   * nothing changes) or say what happens: the chat goes (nobody would remain), or the member goes
   * after the first of `successors` who can take the group over becomes its owner (none can:
   * CHAT_TITLE_TAKEN, nothing changes). Throws CHAT_NOT_FOUND when the chat is gone.
   */
  abstract removeMember(chatId: string, userId: string, decide: (members: Member[]) => RemovalPlan): Promise<RemovalOutcome>;
  /**
   * Sets a role; giving `owner` makes the previous owner an admin. Throws CHAT_TITLE_TAKEN on
   * transfer clash, MEMBER_NOT_FOUND when the user is not (or no longer) a member.
   */
  abstract setRole(chatId: string, userId: string, role: MemberRole, check: ActorCheck): Promise<void>;
  /** Everyone who shares at least one chat with the user (for presence). */
  abstract contactsOf(userId: string): Promise<string[]>;
  /** The user's direct chats, each with the other person in it (whose title it is). */
  abstract directChatsOf(userId: string): Promise<Array<{ chat: Chat; peerId: string }>>;
}
