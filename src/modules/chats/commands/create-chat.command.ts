import type { ChatDetailDto, CreateChatDto } from '../dto/chat.dto.js';

export class CreateChatCommand {
  constructor(
    readonly actorId: string,
    readonly input: CreateChatDto,
  ) {}
}

export interface CreateChatResult {
  chat: ChatDetailDto;
  /** False when the direct chat already existed. */
  created: boolean;
}
