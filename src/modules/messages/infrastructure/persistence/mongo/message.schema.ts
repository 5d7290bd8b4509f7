import { type Connection, type Model, Schema } from 'mongoose';
import { modelOn } from '../../../../../database/mongo/models.js';

/** A message as stored in MongoDB: the domain Message with its id as `_id`. */
export interface MessageRecord {
  _id: string;
  chatId: string;
  seq: number;
  senderId: string;
  clientId: string | null;
  text: string | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
}

export const MESSAGES_COLLECTION = 'messages';
/** Unique (chatId, seq): a second message can never take a seq, whatever goes wrong elsewhere. */
export const MESSAGES_CHAT_SEQ = 'messages_chat_seq';
/** Unique (senderId, clientId) where clientId is set: what makes a send idempotent. */
export const MESSAGES_SENDER_CLIENT = 'messages_sender_client';

export const messageSchema = new Schema<MessageRecord>(
  {
    _id: { type: String, required: true },
    chatId: { type: String, required: true },
    seq: { type: Number, required: true },
    senderId: { type: String, required: true },
    clientId: { type: String, default: null },
    text: { type: String, default: null },
    createdAt: { type: Date, required: true },
    editedAt: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
  },
  { collection: MESSAGES_COLLECTION, versionKey: false, autoIndex: false, autoCreate: false },
);

// History pages, catch-up after a seq, the newest message and unread counts are ranges of this index.
messageSchema.index({ chatId: 1, seq: 1 }, { name: MESSAGES_CHAT_SEQ, unique: true });
// $type rather than $exists: messages without a clientId store null, and nulls must not collide.
messageSchema.index(
  { senderId: 1, clientId: 1 },
  { name: MESSAGES_SENDER_CLIENT, unique: true, partialFilterExpression: { clientId: { $type: 'string' } } },
);
// A sender's newest message up to a read pointer (message_seen).
messageSchema.index({ chatId: 1, senderId: 1, seq: 1 }, { name: 'messages_chat_sender_seq' });

export const messageModel = (connection: Connection): Model<MessageRecord> => modelOn(connection, 'Message', messageSchema);
