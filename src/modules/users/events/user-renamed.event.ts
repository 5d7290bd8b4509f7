/** Published after a user's new name is stored (not when it was the same). */
export class UserRenamedEvent {
  constructor(
    readonly userId: string,
    readonly name: string,
  ) {}
}
