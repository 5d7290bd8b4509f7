import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface SmtpSink {
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  /** Every message accepted so far, parsed, in arrival order. */
  messages: ParsedMail[];
  /** Envelope recipients of each accepted message, same order. */
  recipients: string[][];
  /** TCP connections opened to it so far. */
  connections(): number;
  /** Resolves with the first accepted message matching, waiting for it if need be. */
  waitFor(match: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /**
   * Called for each message before it is accepted; return an Error (with an optional
   * responseCode, default 450) to reject that delivery.
   */
  reject?: (raw: Buffer, session: SMTPServerSession) => (Error & { responseCode?: number }) | undefined;
  /** Answer each message this long after it arrived: a slow mail server. */
  delayMs?: number;
  /** Called for each recipient at RCPT TO; return an Error (with a responseCode) to refuse it there. */
  refuseRecipient?: (address: string) => (Error & { responseCode?: number }) | undefined;
  /** Require AUTH (over plain TCP) with this user and password before MAIL FROM, as submission servers do. */
  login?: { user: string; pass: string };
  /** Listen on this port instead of a random one: a mail server coming back where it was. */
  port?: number;
}

/** A real SMTP server on a random loopback port, without TLS (and AUTH only when asked for), collecting what it receives. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const recipients: string[][] = [];
  const waiters = new Set<() => void>();
  let connections = 0;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !options.login,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      const { login } = options;
      if (login && auth.username === login.user && auth.password === login.pass) return callback(null, { user: login.user });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    logger: false,
    onRcptTo(address, _session, callback) {
      callback(options.refuseRecipient?.(address.address) ?? undefined);
    },
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        const raw = Buffer.concat(chunks);
        const rejection = options.reject?.(raw, session);
        if (rejection) return callback(rejection);
        simpleParser(raw).then(
          (mail) => {
            messages.push(mail);
            recipients.push(session.envelope.rcptTo.map((r) => r.address));
            for (const wake of waiters) wake();
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    recipients,
    connections: () => connections,
    waitFor(match, timeoutMs = 15_000) {
      return new Promise<ParsedMail>((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${timeoutMs} ms; received ${messages.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
