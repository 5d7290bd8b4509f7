export class MarkReadCommand {
  constructor(
    readonly userId: string,
    readonly chatId: string,
    readonly seq: number,
  ) {}
}
