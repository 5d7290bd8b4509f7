/** Published after a user's new name is stored (not when it was the same); who reacts reads it. */
export class UserRenamedEvent {
  constructor(readonly userId: string) {}
}
