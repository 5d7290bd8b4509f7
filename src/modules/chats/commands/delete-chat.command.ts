export class DeleteChatCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
  ) {}
}
