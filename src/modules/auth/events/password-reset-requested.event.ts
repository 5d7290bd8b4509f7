/** Published when someone asks to reset the password of an existing account. */
export class PasswordResetRequestedEvent {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly name: string,
    /** The single-use reset token (plain; only its hash is stored). */
    readonly resetToken: string,
  ) {}
}
