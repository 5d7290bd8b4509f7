import { Logger } from '@nestjs/common';
import nodemailer from 'nodemailer';
import { redact } from '../../../../config/env-reader.js';
import type { OutgoingMail } from '../../domain/mail.js';
import { MailRefusedError, MailTransport } from '../../mail-transport.js';

/** Nodemailer's defaults (2 min to connect, 10 min of socket silence) would hold a worker for ages. */
const TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

const UNREACHABLE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET']);

type Transporter = ReturnType<typeof nodemailer.createTransport>;

/**
 * Sends through the server in SMTP_URL. The URL carries everything nodemailer understands:
 * `smtps://` for implicit TLS, user:password for AUTH, and query options such as
 * `?tls.rejectUnauthorized=false` or `?ignoreTLS=true` for a local test server. Plain `smtp://`
 * upgrades with STARTTLS when the server offers it and sends in the clear when it does not.
 */
export class SmtpMailTransport extends MailTransport {
  readonly mode = 'smtp';
  private readonly logger = new Logger('Mail');
  private readonly transporter: Transporter;
  private readonly where: string;
  /**
   * What the last send found wrong with the setup and a connection check cannot see (a login
   * the server wants only at MAIL FROM, a sender it refuses): reported by check() until a send
   * gets through.
   */
  private setupProblem: Error | undefined;
  /** Sends under way, which close() cuts short. */
  private readonly sending = new Set<AbortController>();

  constructor(
    smtpUrl: string,
    private readonly outboxDir: string,
  ) {
    super();
    this.where = redact(smtpUrl);
    this.transporter = nodemailer.createTransport({ url: smtpUrl, ...TIMEOUTS });
  }

  async send(mail: OutgoingMail): Promise<void> {
    const abort = new AbortController();
    this.sending.add(abort);
    try {
      const info = await this.transporter.sendMail({
        signal: abort.signal,
        from: mail.from,
        to: { name: mail.to.name, address: mail.to.address },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        headers: { 'X-Parley-Template': mail.template },
      });
      this.setupProblem = undefined;
      this.logger.log(`Sent ${mail.template} email ${mail.id} to ${mail.to.address} via ${this.where} (${String(info.response)})`);
    } catch (error) {
      if (abort.signal.aborted)
        throw new Error(`Sending through SMTP_URL (${this.where}) was cut short by the shutdown; the server may or may not have taken it.`);
      const explained = this.explain(error);
      if (isSetupRefusal(error)) this.setupProblem = explained;
      throw explained;
    } finally {
      this.sending.delete(abort);
    }
  }

  async check(): Promise<void> {
    if (this.setupProblem) throw this.setupProblem;
    try {
      await this.transporter.verify();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Cuts short any send still under way, then closes the transport. */
  async close(): Promise<void> {
    for (const abort of this.sending) abort.abort();
    this.transporter.close();
  }

  /** Turns a nodemailer error into a sentence that names SMTP_URL and what to check. */
  private explain(error: unknown): Error {
    const { code, responseCode } = error as { code?: string; responseCode?: number };
    const detail = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
    if (code === 'EAUTH') {
      return new Error(`SMTP_URL (${this.where}) refused the login: ${detail}; check the user name and password in SMTP_URL.`);
    }
    if (code === 'ETLS' || /certificate|TLS|SSL/i.test(detail)) {
      return new Error(
        `SMTP_URL (${this.where}) failed to set up TLS: ${detail}; use smtps:// for implicit TLS (port 465), smtp:// for STARTTLS, or add ?ignoreTLS=true for a server without TLS.`,
      );
    }
    if (code && UNREACHABLE_CODES.has(code)) {
      return new Error(
        `SMTP_URL is unreachable: ${detail} (${this.where}); start the mail server there, fix SMTP_URL, or unset it to write .eml files to ${this.outboxDir}.`,
      );
    }
    if (isSetupRefusal(error)) {
      return new Error(
        (error as SmtpError).command === 'MAIL FROM' && responseCode !== 530
          ? `The mail server at SMTP_URL (${this.where}) refused the sender: ${detail}; check MAIL_FROM, and that SMTP_URL logs in as a user allowed to send from it.`
          : `The mail server at SMTP_URL (${this.where}) wants a login: ${detail}; put the user name and password in SMTP_URL (smtp://user:password@host:port).`,
      );
    }
    if (responseCode) {
      const sentence = `The mail server at SMTP_URL (${this.where}) rejected the message: ${detail}.`;
      // 5xx is permanent (RFC 5321 4.2.1) for this message: a recipient or content refused. A
      // refused login or sender (above) is a setting to fix, and retried.
      return responseCode >= 500 && responseCode < 600 ? new MailRefusedError(sentence) : new Error(sentence);
    }
    return new Error(`Sending through SMTP_URL (${this.where}) failed: ${detail}.`);
  }
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  /** The SMTP command the reply answered, as nodemailer records it ('MAIL FROM', 'RCPT TO', 'DATA', …). */
  command?: string;
  response?: string;
}

/**
 * A refusal that is about this server's setup rather than the message: a login required (530,
 * or enhanced status 5.7.0, which some servers give at RCPT TO), or the sender refused at MAIL
 * FROM. Every message would meet it, so it is retried like an outage, not given up on.
 */
function isSetupRefusal(error: unknown): boolean {
  const { responseCode, command, response } = error as SmtpError;
  if (!responseCode || responseCode < 500 || responseCode >= 600) return false;
  return responseCode === 530 || /^\d{3}[ -]5\.7\.0\b/.test(response ?? '') || command === 'MAIL FROM';
}
