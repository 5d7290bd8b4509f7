/** Published after a new account is committed, with mail on (its confirmation email was queued in the same transaction). */
export class UserSignedUpEvent {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly name: string,
    /**
     * The single-use email confirmation token (plain; only its hash is stored). No production
     * code reads it (the email is queued in the sign-up's transaction); in-process listeners may,
     * and the tests take links from it. Never publish this event outside the process.
     */
    readonly confirmationToken: string,
  ) {}
}
