export class DeleteMessageCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly messageId: string,
  ) {}
}
