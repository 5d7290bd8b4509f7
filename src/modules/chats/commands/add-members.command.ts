import type { ChatDetailDto } from '../dto/chat.dto.js';

/** The chat after the addition, and who of those asked for came in (none: they all were members). */
export interface AddMembersResult {
  chat: ChatDetailDto;
  added: string[];
}

export class AddMembersCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userIds: string[],
  ) {}
}
