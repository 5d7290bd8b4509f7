export class RenameChatCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly title: string,
  ) {}
}
