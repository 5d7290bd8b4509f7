import { Logger } from '@nestjs/common';
import nodemailer from 'nodemailer';
import { redact } from '../../../../config/env-reader.js';
import type { OutgoingMail } from '../../domain/mail.js';
import {
  MailOutcomeUnknownError,
  MailRefusedError,
  MailSendInterruptedError,
  MailServerUnreachableError,
  MailTransport,
} from '../../mail-transport.js';
import { errorMessage } from '../../../../common/errors/error-message.js';

/** Nodemailer's defaults (2 min to connect, 10 min of socket silence) would hold a worker for ages. */
const TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

/**
 * check()'s own connection and greeting timeouts: under the health check's 3 s, so that a server
 * that takes the connection and never speaks is reported in this transport's words (naming
 * SMTP_URL and the fix), not as a bare "no answer". Each later step (TLS, login) has as long.
 */
const CHECK_TIMEOUTS = { connectionTimeout: 2_500, greetingTimeout: 2_500, socketTimeout: 2_500 };

/** How long a setup problem a send found stands in for the health check (then the server is asked again). */
const SETUP_PROBLEM_MS = 5 * 60_000;

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
  /** The same server with CHECK_TIMEOUTS, for check(): a send may wait longer than a check. */
  private readonly checker: Transporter;
  private readonly where: string;
  /**
   * What a send found wrong with the setup and a connection check cannot see (a login the
   * server wants only at MAIL FROM, a sender it refuses, a relay it denies): reported by check()
   * until a send gets through, or for SETUP_PROBLEM_MS, after which the server is asked again.
   */
  private setupProblem: { error: Error; at: number } | undefined;
  /** Whether SMTP_URL carries a login: without one, a relay refused at RCPT TO is the setup's fault. */
  private readonly hasLogin: boolean;
  /** Sends under way, which close() cuts short. */
  private readonly sending = new Set<AbortController>();
  /** Sends run one at a time (the worker sends one message at a time anyway), so that `bodySent` is the current one's. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The current send has written the whole message: a broken connection now leaves its fate unknown. */
  private bodySent = false;
  private closed = false;

  constructor(
    smtpUrl: string,
    private readonly outboxDir: string,
  ) {
    super();
    this.where = redact(smtpUrl);
    this.hasLogin = URL.canParse(smtpUrl) && new URL(smtpUrl).username !== '';
    // Nodemailer says, on its log, when a message's last byte has gone to the server (before the
    // server's answer to it): the only sign of how far a send got that it gives.
    const sentWhole = (entry: unknown) => {
      const { tnx, outByteCount } = (entry ?? {}) as { tnx?: string; outByteCount?: unknown };
      if (tnx === 'message' && typeof outByteCount === 'number') this.bodySent = true;
    };
    const quiet = () => undefined;
    const logger = { trace: quiet, debug: quiet, info: sentWhole, warn: quiet, error: quiet, fatal: quiet };
    this.transporter = nodemailer.createTransport({ url: smtpUrl, ...TIMEOUTS, logger });
    this.checker = nodemailer.createTransport({ url: smtpUrl, ...CHECK_TIMEOUTS });
  }

  send(mail: OutgoingMail): Promise<void> {
    const sent = this.queue.then(() => {
      if (this.closed) throw new MailSendInterruptedError('The mail transport closed (shutdown) before this email was sent; it stays due.');
      return this.sendNow(mail);
    });
    this.queue = sent.catch(() => undefined);
    return sent;
  }

  private async sendNow(mail: OutgoingMail): Promise<void> {
    const abort = new AbortController();
    this.sending.add(abort);
    this.bodySent = false;
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
        throw new MailSendInterruptedError(
          `Sending through SMTP_URL (${this.where}) was cut short by the shutdown; the server may or may not have taken it.`,
        );
      const { code } = error as { code?: string };
      if (this.bodySent && code && UNREACHABLE_CODES.has(code)) {
        const detail = errorMessage(error).replace(/\s+/g, ' ').trim();
        throw new MailOutcomeUnknownError(
          `The whole message was written to the mail server at SMTP_URL (${this.where}), but its answer never came (${detail}): it may have been delivered, and a retry may deliver it twice.`,
        );
      }
      const explained = this.explain(error);
      if (this.isSetupRefusal(error)) this.setupProblem = { error: explained, at: Date.now() };
      throw explained;
    } finally {
      this.sending.delete(abort);
    }
  }

  async check(): Promise<void> {
    if (this.setupProblem && Date.now() - this.setupProblem.at < SETUP_PROBLEM_MS) throw this.setupProblem.error;
    this.setupProblem = undefined;
    try {
      await this.checker.verify();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Cuts short any send still under way (one queued behind it is not started), then closes the transport. */
  async close(): Promise<void> {
    this.closed = true;
    for (const abort of this.sending) abort.abort();
    this.transporter.close();
    this.checker.close();
  }

  /**
   * A refusal about this server's setup rather than the message, which every message would meet:
   * retried like an outage, not given up on. A login wanted (530, or 5.7.0 at MAIL FROM or RCPT
   * TO), any refusal of the sender at MAIL FROM, and, with no login in SMTP_URL, a relay denied
   * at RCPT TO (RELAY_DENIED). A refusal at DATA is the message's own.
   */
  private isSetupRefusal(error: unknown): boolean {
    const { responseCode, command, response } = error as SmtpError;
    if (!responseCode || responseCode < 500 || responseCode >= 600 || command === 'DATA') return false;
    if (command === 'MAIL FROM' || responseCode === 530 || isLoginWanted(response)) return true;
    return command === 'RCPT TO' && !this.hasLogin && RELAY_DENIED.test(response ?? '');
  }

  /** Turns a nodemailer error into a sentence that names SMTP_URL and what to check. */
  private explain(error: unknown): Error {
    const { code, responseCode } = error as { code?: string; responseCode?: number };
    const detail = errorMessage(error).replace(/\s+/g, ' ').trim();
    if (code === 'EAUTH') {
      return new Error(`SMTP_URL (${this.where}) refused the login: ${detail}; check the user name and password in SMTP_URL.`);
    }
    if (code === 'ETLS' || /certificate|TLS|SSL/i.test(detail)) {
      return new Error(
        `SMTP_URL (${this.where}) failed to set up TLS: ${detail}; use smtps:// for implicit TLS (port 465), smtp:// for STARTTLS, or add ?ignoreTLS=true for a server without TLS.`,
      );
    }
    if (code && UNREACHABLE_CODES.has(code)) {
      return new MailServerUnreachableError(
        `SMTP_URL is unreachable: ${detail} (${this.where}); start the mail server there, fix SMTP_URL, or unset it to write .eml files to ${this.outboxDir}.`,
      );
    }
    if (this.isSetupRefusal(error)) {
      const { command, response } = error as SmtpError;
      if (command === 'MAIL FROM' && responseCode !== 530 && !isLoginWanted(response))
        return new Error(
          `The mail server at SMTP_URL (${this.where}) refused the sender: ${detail}; check MAIL_FROM, and that SMTP_URL logs in as a user allowed to send from it.`,
        );
      if (responseCode === 530 || isLoginWanted(response))
        return new Error(
          `The mail server at SMTP_URL (${this.where}) wants a login: ${detail}; put the user name and password in SMTP_URL (smtp://user:password@host:port).`,
        );
      return new Error(
        `The mail server at SMTP_URL (${this.where}) will not relay for this server: ${detail}; put a user name and password in SMTP_URL, or allow this host to relay.`,
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
 * A relay refused (Postfix "Relay access denied", Sendmail "Relaying denied", Exim "relay not
 * permitted"), not a recipient refused on a relay's behalf ("User unknown in relay recipient table").
 */
const RELAY_DENIED = /relay(ing)? (access )?denied|relay(ing)? not permitted|unable to relay|not permitted to relay/i;

/** Enhanced status 5.7.0: authentication required (RFC 4954), whatever the basic code. */
const isLoginWanted = (response: string | undefined): boolean => /^\d{3}[ -]5\.7\.0\b/.test(response ?? '');
