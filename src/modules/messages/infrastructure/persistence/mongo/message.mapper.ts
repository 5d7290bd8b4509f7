import type { Message } from '../../../domain/message.js';
import type { MessageRecord } from './message.schema.js';

export function toMessage(r: MessageRecord): Message {
  return {
    id: r._id,
    chatId: r.chatId,
    seq: r.seq,
    senderId: r.senderId,
    clientId: r.clientId ?? null,
    text: r.text ?? null,
    createdAt: r.createdAt,
    editedAt: r.editedAt ?? null,
    deletedAt: r.deletedAt ?? null,
  };
}
