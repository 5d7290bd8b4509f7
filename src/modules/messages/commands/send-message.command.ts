import type { Message } from '../domain/message.js';

export class SendMessageCommand {
  constructor(
    readonly senderId: string,
    readonly chatId: string,
    readonly text: string,
    readonly clientId: string | null,
    /**
     * Called once the send is queued for storage: from then on its place in the chat is fixed
     * relative to later sends (the store keeps the order of its calls per chat), so a connection
     * can start on its next frame without waiting for this commit.
     */
    readonly onQueued?: () => void,
  ) {}
}

export interface SendMessageResult {
  message: Message;
  /** False for a repeated clientId: nothing was stored or broadcast. */
  created: boolean;
}
