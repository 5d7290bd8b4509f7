export class RemoveMemberCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly userId: string,
  ) {}
}
