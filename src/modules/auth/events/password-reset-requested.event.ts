/** Published once a reset link for an existing account is committed (its email was queued in the same transaction). */
export class PasswordResetRequestedEvent {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly name: string,
    /**
     * The single-use reset token (plain; only its hash is stored). No production code reads it
     * (the email is queued in the link's transaction); in-process listeners may, and the tests
     * take links from it. Never publish this event outside the process.
     */
    readonly resetToken: string,
  ) {}
}
