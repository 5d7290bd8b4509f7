export class EditMessageCommand {
  constructor(
    readonly actorId: string,
    readonly chatId: string,
    readonly messageId: string,
    readonly text: string,
  ) {}
}
