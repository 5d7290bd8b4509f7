/** Published once a reset link for an existing account is committed (its email was queued in the same transaction). */
export class PasswordResetRequestedEvent {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly name: string,
    /** The single-use reset token (plain; only its hash is stored). */
    readonly resetToken: string,
  ) {}
}
