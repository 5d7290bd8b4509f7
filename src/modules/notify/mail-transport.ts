import type { OutgoingMail } from './domain/mail.js';

/**
 * Delivers one message. Adapters: SMTP (SMTP_URL set) and the outbox of .eml files under
 * DATA_DIR. Errors thrown from send are sentences naming the setting to check; the worker
 * records them and retries, unless the error is a MailRefusedError.
 */
export abstract class MailTransport {
  /** Shown on /health/ready: 'smtp' or 'outbox'. */
  abstract readonly mode: string;

  abstract send(mail: OutgoingMail): Promise<void>;

  /** Resolves when the transport could deliver right now; rejects with the reason otherwise. */
  abstract check(): Promise<void>;

  abstract close(): Promise<void>;
}

/**
 * The mail server refused this message for good (an SMTP 5xx reply, such as "no such user"):
 * sending it again would be refused again and only hurt the sender's reputation.
 */
export class MailRefusedError extends Error {}

/**
 * The mail server could not be reached, or the connection to it broke: an outage. Retried with
 * backoff like any failure, and at once when the server is seen answering again (it took another
 * email, or answered a check), so that a short outage does not hold mail for the hours its
 * backoff has grown to.
 */
export class MailServerUnreachableError extends Error {}

/**
 * The send was cut short (the process is shutting down) before the server answered: not a
 * failure, so the message stays due rather than being retried later or given up on. The server
 * may have taken it.
 */
export class MailSendInterruptedError extends Error {}

/**
 * The connection broke, or the server fell silent, after the whole message had been written to
 * it and before it answered: it may well have taken it. Not an outage (the server may have
 * been seen answering all along): retried with the normal backoff, counted, and never brought
 * forward, so a server that keeps losing its answer gets the message a few times over hours,
 * not every few seconds.
 */
export class MailOutcomeUnknownError extends Error {}
