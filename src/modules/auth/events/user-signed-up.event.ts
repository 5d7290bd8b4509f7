/** Published after a new account is committed. Notify sends the confirmation email from it. */
export class UserSignedUpEvent {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly name: string,
    /** The single-use email confirmation token (plain; only its hash is stored). */
    readonly confirmationToken: string,
  ) {}
}
