import type { EntityManager } from 'typeorm';
import type { MailRecipient, MailTemplateName } from './domain/mail.js';

export interface MailRequest {
  template: MailTemplateName;
  to: MailRecipient;
  userId: string;
  /** The single-use token the email's link carries (plain; only its hash is stored elsewhere). */
  token: string;
}

/**
 * How other modules ask for an email: inside their own transaction, so the email is recorded if
 * and only if what asked for it commits (an account never exists without its confirmation email,
 * and a reset link's email is queued in the order its link was made). Provided by the notify
 * module; absent, and so injected as undefined where asked for with @Optional(), when notify is
 * switched off.
 */
export abstract class MailOutbox {
  /** Renders the email and records it as pending, in `tx`. */
  abstract queue(request: MailRequest, tx: EntityManager): Promise<void>;

  /** Has the sender look at the log now; call it once the transaction that queued mail has committed. */
  abstract wake(): void;
}
