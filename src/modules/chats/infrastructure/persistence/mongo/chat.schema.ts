import { type Connection, type Model, Schema } from 'mongoose';
import { modelOn } from '../../../../../database/mongo/models.js';
import type { ChatType, MemberRole } from '../../../domain/chat.js';

/**
 * A chat as stored in MongoDB. `memberIds` repeats who is in it (each member's own state is a
 * MemberRecord) so that the chat list, the membership check of a send and the fan-out list read
 * this one document, and so that every membership change writes it: that write is what makes a
 * concurrent send and a membership change conflict, as the chat row lock does in PostgreSQL.
 */
export interface ChatRecord {
  _id: string;
  type: ChatType;
  title: string | null;
  /** Groups only: the title in lower case, unique per owner. */
  titleLower?: string;
  ownerId: string | null;
  /** Direct chats only: "<smaller user id>:<larger user id>", unique. */
  directKey?: string;
  /** The seq of the newest message; a send takes lastSeq + 1 in its transaction. */
  lastSeq: number;
  lastActivityAt: Date;
  createdAt: Date;
  updatedAt: Date;
  memberIds: string[];
  /** Chat.version: one more with every change to the members, their roles or the title. Missing on records from before it was kept: 0. */
  version?: number;
  /** Written first by every change to the chat, to hold the record from there to its commit (MongoChatRepository.claim); means nothing else. */
  claims?: number;
}

/** One member of one chat. */
export interface MemberRecord {
  /** memberKey(chatId, userId): at most one record per member, by construction. */
  _id: string;
  chatId: string;
  userId: string;
  role: MemberRole;
  joinedAt: Date;
  lastReadSeq: number;
  lastReadAt: Date | null;
  /** The chat's last seq when this member was added (0 from the start; missing on records from before it was kept). */
  joinedSeq?: number;
  /** Highest seq of this member's own messages they were told everyone has read (message_seen). */
  seenNotifiedSeq: number;
  /** Written by a change to one of this member's messages, to hold the record to its commit; means nothing else. */
  claims?: number;
}

export const CHATS_COLLECTION = 'chats';
export const MEMBERS_COLLECTION = 'chat_members';
export const CHAT_PURGES_COLLECTION = 'chat_purges';
export const CHATS_DIRECT_KEY = 'chats_direct_key';
export const CHATS_OWNER_TITLE = 'chats_owner_title';

export const memberKey = (chatId: string, userId: string): string => `${chatId}:${userId}`;

export const chatSchema = new Schema<ChatRecord>(
  {
    _id: { type: String, required: true },
    type: { type: String, enum: ['direct', 'group'], required: true },
    title: { type: String, default: null },
    titleLower: { type: String },
    ownerId: { type: String, default: null },
    directKey: { type: String },
    lastSeq: { type: Number, required: true, default: 0 },
    lastActivityAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    memberIds: { type: [String], default: [] },
    version: { type: Number },
    claims: { type: Number },
  },
  { collection: CHATS_COLLECTION, versionKey: false, autoIndex: false, autoCreate: false },
);

// One direct chat per pair: two people starting it at once race on this key.
chatSchema.index({ directKey: 1 }, { name: CHATS_DIRECT_KEY, unique: true, partialFilterExpression: { directKey: { $type: 'string' } } });
// A title once among the groups one person owns, in any case.
chatSchema.index({ ownerId: 1, titleLower: 1 }, { name: CHATS_OWNER_TITLE, unique: true, partialFilterExpression: { type: 'group' } });
// "My chats", newest activity first: equality on the member, then the list's order, so a page
// is a walk down this index. It also answers contactsOf.
chatSchema.index({ memberIds: 1, lastActivityAt: -1, _id: -1 }, { name: 'chats_member_activity' });

export const memberSchema = new Schema<MemberRecord>(
  {
    _id: { type: String, required: true },
    chatId: { type: String, required: true },
    userId: { type: String, required: true },
    role: { type: String, enum: ['owner', 'admin', 'member'], required: true },
    joinedAt: { type: Date, required: true },
    lastReadSeq: { type: Number, required: true, default: 0 },
    lastReadAt: { type: Date, default: null },
    joinedSeq: { type: Number, default: 0 },
    seenNotifiedSeq: { type: Number, required: true, default: 0 },
    claims: { type: Number },
  },
  { collection: MEMBERS_COLLECTION, versionKey: false, autoIndex: false, autoCreate: false },
);

// A chat's members, those who have read up to a seq (readers), and the lowest read pointers (message_seen).
memberSchema.index({ chatId: 1, lastReadSeq: 1 }, { name: 'chat_members_chat_read' });

/**
 * A deleted chat whose messages may still be stored: written in the transaction that deletes the
 * chat, removed once its messages are (MongoChatHistoryPurge). The messages go after the commit, a
 * range at a time (a long history could outgrow a transaction's limits), so a stop or a failure
 * leaves this record to finish the job from where it got.
 */
export interface ChatPurgeRecord {
  /** The deleted chat's id. */
  _id: string;
  deletedAt: Date;
  /** The chat's last seq when it was deleted: messages up to it go. Missing on records written before ranges were kept. */
  lastSeq?: number;
  /** Messages up to this seq are gone. */
  purgedTo?: number;
  /** Written first by each batch of the purge, to hold the record to its commit; means nothing else. */
  claims?: number;
}

export const chatPurgeSchema = new Schema<ChatPurgeRecord>(
  {
    _id: { type: String, required: true },
    deletedAt: { type: Date, required: true },
    lastSeq: { type: Number },
    purgedTo: { type: Number },
    claims: { type: Number },
  },
  { collection: CHAT_PURGES_COLLECTION, versionKey: false, autoIndex: false, autoCreate: false },
);

export function chatModels(connection: Connection): {
  chats: Model<ChatRecord>;
  members: Model<MemberRecord>;
  purges: Model<ChatPurgeRecord>;
} {
  return {
    chats: modelOn(connection, 'Chat', chatSchema),
    members: modelOn(connection, 'ChatMember', memberSchema),
    purges: modelOn(connection, 'ChatPurge', chatPurgeSchema),
  };
}

/** A member who has read nothing yet. */
export function newMember(chatId: string, userId: string, role: MemberRole, joinedAt: Date): MemberRecord {
  return { _id: memberKey(chatId, userId), chatId, userId, role, joinedAt, lastReadSeq: 0, lastReadAt: null, seenNotifiedSeq: 0 };
}
