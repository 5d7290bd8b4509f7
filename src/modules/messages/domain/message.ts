/** A message. `seq` is its place in the chat: 1, 2, 3, … with no gaps, assigned when stored. */
export interface Message {
  id: string;
  chatId: string;
  seq: number;
  senderId: string;
  clientId: string | null;
  /** Null once deleted: a deleted message keeps its seq and loses its text. */
  text: string | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
}

export const TEXT_MAX_LENGTH = 4096;
