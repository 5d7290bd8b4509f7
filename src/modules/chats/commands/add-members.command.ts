export class AddMembersCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userIds: string[],
  ) {}
}
