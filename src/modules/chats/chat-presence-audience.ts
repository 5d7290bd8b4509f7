import { Injectable } from '@nestjs/common';
import { PresenceAudience } from '../../realtime/presence-audience.js';
import { ChatRepository } from './chat.repository.js';

/** Presence changes go to the people who share a chat with the user. */
@Injectable()
export class ChatPresenceAudience extends PresenceAudience {
  constructor(private readonly chats: ChatRepository) {
    super();
  }

  contactsOf(userId: string): Promise<string[]> {
    return this.chats.contactsOf(userId);
  }
}
