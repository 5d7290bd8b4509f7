import type { MemberRole } from '../domain/chat.js';

export class ChangeRoleCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userId: string,
    readonly role: MemberRole,
  ) {}
}
