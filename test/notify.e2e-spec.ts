import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { simpleParser } from 'mailparser';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { createApp } from '../src/app.factory.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { loadConfig } from '../src/config/app-config.js';
import { MAX_SEND_ATTEMPTS } from '../src/modules/notify/domain/retry-policy.js';
import { MailDeliveryWorker } from '../src/modules/notify/mail-delivery.worker.js';
import { MailOutbox } from '../src/modules/notify/mail-outbox.js';
import type { MailTemplateName } from '../src/modules/notify/domain/mail.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from './support/databases.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { MAIL_KEPT_DAYS, MailHousekeeping } from '../src/modules/notify/mail-housekeeping.js';
import { closedPort } from './support/net.js';
import { pause } from './support/ws.js';

const PUBLIC_URL = 'https://chat.example.com';
const MAIL_FROM = 'Parley Test <robot@parley.test>';

interface MailLogRow {
  id: string;
  template: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
  text_body: string | null;
  next_attempt_at: Date;
}

/** An app with only notify (and health), sending through the sink. */
const smtpEnv = (db: TestDatabase, sink: SmtpSink, extra: Record<string, string> = {}) =>
  Object.assign({}, db.env, { MODULES: 'notify,health', SMTP_URL: sink.url, MAIL_FROM, PUBLIC_URL }, extra);

/** What APP_ENV=PRODUCTION needs besides the database: a public origin and secrets of its own. */
const PRODUCTION = { APP_ENV: 'PRODUCTION', PUBLIC_URL, JWT_ACCESS_SECRET: 'a'.repeat(40), JWT_REFRESH_SECRET: 'r'.repeat(40) };

const uniqueEmail = (who: string) => `${who}-${randomUUID().slice(0, 8)}@example.com`;

/** Queues an email as auth does, in a transaction of its own, and wakes the sender. */
async function queueMail(
  app: NestExpressApplication,
  template: MailTemplateName,
  email: string,
  name: string,
  token: string,
): Promise<void> {
  const outbox = app.get(MailOutbox);
  await app.get(DataSource).transaction((tx) => outbox.queue({ template, to: { address: email, name }, userId: randomUUID(), token }, tx));
  outbox.wake();
}

/** Waits until the recipient's message has left `pending`, and returns its row. */
async function settledRow(app: NestExpressApplication, recipient: string, timeoutMs = 20_000): Promise<MailLogRow> {
  const dataSource = app.get(DataSource);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await dataSource.query('SELECT * FROM mail_log WHERE recipient = $1', [recipient])) as MailLogRow[];
    if (rows.length > 1) throw new Error(`expected one mail_log row for ${recipient}, found ${rows.length}`);
    if (rows[0] && rows[0].status !== 'pending') return rows[0];
    if (Date.now() > deadline) throw new Error(`mail to ${recipient} still ${rows[0]?.status ?? 'absent'} after ${timeoutMs} ms`);
    await pause(50);
  }
}

/** Waits until the recipient's message has been tried once (and failed), and returns its row. */
async function firstAttempt(dataSource: DataSource, recipient: string): Promise<MailLogRow> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [row] = (await dataSource.query('SELECT * FROM mail_log WHERE recipient = $1', [recipient])) as MailLogRow[];
    if (row && row.attempts >= 1 && row.last_error) return row;
    if (Date.now() > deadline) throw new Error(`mail to ${recipient} not tried within 15 s`);
    await pause(50);
  }
}

/** Boots the app like startTestApp, but keeps its log lines for the test to read. */
async function startAppWithLogs(env: Record<string, string>): Promise<{ app: NestExpressApplication; url: string; logs: string[] }> {
  const logs: string[] = [];
  const config = loadConfig({ APP_ENV: 'LOCAL', PORT: '0', MODULES: 'notify,health', ...env });
  const app = await createApp(config, new AppLogger('log', 'json', (line) => logs.push(line)));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, logs };
}

const recipientsOf = (mail: { to?: unknown }) =>
  ([] as Array<{ value: Array<{ address?: string }> }>).concat((mail.to ?? []) as never).flatMap((to) => to.value.map((v) => v.address));

describe('notify over SMTP', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  /** Recipients whose next delivery the server refuses with the given reply. */
  const refuse = new Map<string, { remaining: number; code?: number; message?: string }>();
  /** Recipients the server refuses at RCPT TO, with this reply. */
  const refuseRecipients = new Map<string, Error & { responseCode: number }>();

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink({
      refuseRecipient: (address) => refuseRecipients.get(address),
      reject: (_raw, session) => {
        for (const { address } of session.envelope.rcptTo) {
          const rule = refuse.get(address);
          if (rule && rule.remaining > 0) {
            rule.remaining -= 1;
            return rule.code
              ? Object.assign(new Error(rule.message ?? 'No such user here'), { responseCode: rule.code })
              : Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 });
          }
        }
        return undefined;
      },
    });
    app = await startTestApp(smtpEnv(db, sink, { MAIL_RETRY_BASE_SECONDS: '0' }));
  });

  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await db?.dispose();
  });

  it('sends the confirmation email with the link in both parts, from MAIL_FROM, and records it as sent', async () => {
    const email = uniqueEmail('ada');
    const token = 'tok+en/1=';
    const link = `${PUBLIC_URL}/ui/#/confirm-email?token=tok%2Ben%2F1%3D`;
    await queueMail(app.app, 'confirm-email', email, 'Ada <Lovelace>', token);

    const mail = await sink.waitFor((m) => recipientsOf(m).includes(email));
    expect(mail.subject).toBe('Confirm your email address for Parley');
    expect(mail.from?.value).toEqual([{ address: 'robot@parley.test', name: 'Parley Test' }]);
    expect(mail.to).toMatchObject({ value: [{ address: email, name: 'Ada <Lovelace>' }] });
    expect(mail.text).toContain(link);
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.html).toContain('Ada &lt;Lovelace&gt;');
    expect(mail.html).not.toContain('Ada <Lovelace>');
    expect(mail.headers.get('x-parley-template')).toBe('confirm-email');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ template: 'confirm-email', status: 'sent', attempts: 1, last_error: null, text_body: null });
    expect(row.sent_at).toBeInstanceOf(Date);
    expect(mail.messageId).toBe(`<${row.id}@parley.test>`);
  });

  it('retries a delivery the server refused and then delivers the message exactly once', async () => {
    const email = uniqueEmail('retry');
    refuse.set(email, { remaining: 1 });
    await queueMail(app.app, 'confirm-email', email, 'Retry', 'token-retry');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(row.last_error).toMatch(/^The mail server at SMTP_URL .* rejected the message: .*451.*Mailbox busy/);
    expect(sink.messages.filter((m) => recipientsOf(m).includes(email))).toHaveLength(1);
    expect(refuse.get(email)!.remaining).toBe(0);
  });

  it(`gives up after ${MAX_SEND_ATTEMPTS} refused attempts and marks the message failed`, async () => {
    const email = uniqueEmail('doomed');
    refuse.set(email, { remaining: Number.POSITIVE_INFINITY });
    await queueMail(app.app, 'reset-password', email, 'Doomed', 'token-doomed');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ template: 'reset-password', status: 'failed', attempts: MAX_SEND_ATTEMPTS, text_body: null });
    expect(row.last_error).toMatch(/rejected the message/);
    expect(sink.messages.filter((m) => recipientsOf(m).includes(email))).toHaveLength(0);
  });

  it('sends every message once when two instances work the same mail log', async () => {
    const second = await startTestApp(smtpEnv(db, sink));
    try {
      const emails = Array.from({ length: 25 }, (_, i) => uniqueEmail(`crowd${i}`));
      await Promise.all(emails.map((email) => queueMail(app.app, 'confirm-email', email, 'Crowd', `t-${email}`)));
      // The first instance was woken as each was queued; make the second compete for the same rows.
      await Promise.all([second.app.get(MailDeliveryWorker).drain(), second.app.get(MailDeliveryWorker).drain()]);

      const rows = await Promise.all(emails.map((email) => settledRow(app.app, email)));
      expect(rows.map((r) => [r.status, r.attempts])).toEqual(emails.map(() => ['sent', 1]));
      for (const email of emails) {
        expect(sink.messages.filter((m) => recipientsOf(m).includes(email))).toHaveLength(1);
      }
    } finally {
      await second.close();
    }
  });

  it('gives up at once on a permanent refusal (5xx) rather than retrying a dead address', async () => {
    const email = uniqueEmail('nosuchuser');
    refuse.set(email, { remaining: Number.POSITIVE_INFINITY, code: 550 });
    await queueMail(app.app, 'confirm-email', email, 'Nobody', 'token-nobody');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ status: 'failed', attempts: 1, text_body: null });
    expect(row.last_error).toMatch(/rejected the message: .*550/);
  });

  it('gives up at once on a recipient a relay refuses for itself, even with 5.7.1 and "relay" in the reply', async () => {
    const email = uniqueEmail('unknown-relay');
    refuseRecipients.set(
      email,
      Object.assign(new Error('5.7.1 <x>: Recipient address rejected: User unknown in relay recipient table'), { responseCode: 550 }),
    );
    await queueMail(app.app, 'confirm-email', email, 'Unknown', 'token-unknown');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
  });

  it('gives up at once on a message refused at DATA, even with a security status (5.7.0): the content, not the setup', async () => {
    const email = uniqueEmail('blocked');
    refuse.set(email, { remaining: Number.POSITIVE_INFINITY, code: 552, message: '5.7.0 Message blocked by the content filter' });
    await queueMail(app.app, 'confirm-email', email, 'Blocked', 'token-blocked');

    const row = await settledRow(app.app, email);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/rejected the message: .*552 5\.7\.0 Message blocked/);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
  });

  it('checks the mail server once for a burst of /health/ready requests, not once per request', async () => {
    const before = sink.connections();
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${app.url}/health/ready`)));
    for (let i = 0; i < 5; i++) answers.push(await fetch(`${app.url}/health/ready`));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    expect(sink.connections() - before).toBeLessThanOrEqual(1);
  });

  it(`removes sent and failed messages from the mail log after ${MAIL_KEPT_DAYS} days, and never a pending one`, async () => {
    const [sent, failed, recent, pending] = [
      uniqueEmail('old-sent'),
      uniqueEmail('old-failed'),
      uniqueEmail('recent'),
      uniqueEmail('pending'),
    ];
    for (const email of [sent, failed, recent]) {
      await queueMail(app.app, 'confirm-email', email, 'Old', 'token');
      await settledRow(app.app, email);
    }
    const dataSource = app.app.get(DataSource);
    await dataSource.query(`UPDATE mail_log SET status = 'failed' WHERE recipient = $1`, [failed]);
    await dataSource.query(
      `INSERT INTO mail_log (id, template, recipient, recipient_name, sender, subject, text_body, html_body, next_attempt_at, created_at)
       VALUES (gen_random_uuid(), 'confirm-email', $1, '', 'robot@parley.test', 'Pending', 't', 'h', now() + interval '1 hour', now() - interval '60 days')`,
      [pending],
    );
    await dataSource.query(`UPDATE mail_log SET created_at = now() - interval '${MAIL_KEPT_DAYS + 1} days' WHERE recipient = ANY ($1)`, [
      [sent, failed],
    ]);

    expect(await app.app.get(MailHousekeeping).run()).toBeGreaterThanOrEqual(2);
    const left = (await dataSource.query(`SELECT recipient FROM mail_log WHERE recipient = ANY ($1) ORDER BY recipient`, [
      [sent, failed, recent, pending],
    ])) as Array<{ recipient: string }>;
    expect(left.map((r) => r.recipient)).toEqual([pending, recent].sort());
  });

  it('reports mail up in smtp mode on /health/ready', async () => {
    const response = await fetch(`${app.url}/health/ready`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as any;
    expect(body.dependencies.mail).toEqual({ status: 'up', mode: 'smtp', latencyMs: expect.any(Number) });
  });
});

describe('notify with a slow mail server', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  const env = () => smtpEnv(db, sink);
  const rowsFor = async (app: NestExpressApplication, emails: string[]) =>
    (await app.get(DataSource).query('SELECT recipient, status, attempts FROM mail_log WHERE recipient = ANY($1)', [emails])) as Array<{
      recipient: string;
      status: string;
      attempts: number;
    }>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink({ delayMs: 400 });
  });

  afterAll(async () => {
    await sink?.close();
    await db?.dispose();
  });

  it('sends each message once with two instances, though the sends together outlast one lease', async () => {
    const first = await startTestApp(env());
    const second = await startTestApp(env());
    try {
      // 8 sends of 0.4 s each take longer than a 1.5 s lease, but none alone does.
      for (const app of [first, second]) app.app.get(MailDeliveryWorker).leaseSeconds = 1.5;
      const emails = Array.from({ length: 8 }, (_, i) => uniqueEmail(`slow${i}`));
      for (const email of emails) await queueMail(first.app, 'confirm-email', email, 'Slow', `t-${email}`);
      second.app.get(MailDeliveryWorker).wake();

      const rows = await Promise.all(emails.map((email) => settledRow(first.app, email)));
      expect(rows.map((r) => r.status)).toEqual(emails.map(() => 'sent'));
      await pause(1_000); // a second copy, if one were on its way, would arrive by now
      for (const email of emails) expect(sink.messages.filter((m) => recipientsOf(m).includes(email))).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('stops between messages at shutdown, leaving the rest unclaimed for the next start', async () => {
    const app = await startTestApp(env());
    const emails = Array.from({ length: 4 }, (_, i) => uniqueEmail(`stop${i}`));
    try {
      for (const email of emails) await queueMail(app.app, 'confirm-email', email, 'Stop', `t-${email}`);
      const deadline = Date.now() + 10_000;
      while ((await rowsFor(app.app, emails)).every((r) => r.attempts === 0) && Date.now() < deadline) await pause(20);
    } finally {
      await app.close();
    }
    const second = await startTestApp({ ...env(), MODULES: 'health' });
    try {
      const rows = await rowsFor(second.app, emails);
      expect(rows).toHaveLength(4);
      expect(rows.filter((r) => r.attempts > 0).map((r) => r.status)).toEqual(['sent']);
      expect(rows.filter((r) => r.attempts === 0).map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
    } finally {
      await second.close();
    }
  });
});

describe('notify with a mail server that stops answering', () => {
  it('cuts the send short a few seconds into the shutdown and keeps the message for a retry', async () => {
    const db = await createTestDatabase('postgres');
    // Answers each message after 40 s: longer than the shutdown waits, shorter than the socket timeout.
    const sink = await startSmtpSink({ delayMs: 40_000 });
    const email = uniqueEmail('hung');
    try {
      const started = await startAppWithLogs(smtpEnv(db, sink, { MAIL_RETRY_BASE_SECONDS: '60' }));
      const dataSource = started.app.get(DataSource);
      try {
        await queueMail(started.app, 'confirm-email', email, 'Hung', 'token-hung');
        const deadline = Date.now() + 10_000;
        const attempts = async () =>
          ((await dataSource.query('SELECT attempts FROM mail_log WHERE recipient = $1', [email])) as MailLogRow[])[0]?.attempts ?? 0;
        while ((await attempts()) === 0 && Date.now() < deadline) await pause(20);
        await pause(300); // into the DATA phase
      } finally {
        await started.app.close();
      }
      const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<MailLogRow>('SELECT * FROM mail_log WHERE recipient = $1', [email]);
        // Due again at once: a cut-off send is no failure.
        expect(rows[0]).toMatchObject({ status: 'pending', attempts: 1, text_body: expect.any(String) });
        expect(rows[0].last_error).toMatch(/cut short by the shutdown/);
        expect(rows[0].next_attempt_at.getTime()).toBeLessThanOrEqual(Date.now());
      } finally {
        await client.end();
      }
      expect(started.logs.some((line) => line.includes('cutting it short'))).toBe(true);
    } finally {
      await sink.close();
      await db.dispose();
    }
  });
});

describe('notify with an unreachable SMTP_URL', () => {
  let db: TestDatabase;
  let started: Awaited<ReturnType<typeof startAppWithLogs>>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    started = await startAppWithLogs({
      ...db.env,
      SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`,
      MAIL_RETRY_BASE_SECONDS: '0',
    });
  });

  afterAll(async () => {
    await started?.app.close();
    await db?.dispose();
  });

  it('keeps serving, logs a sentence naming SMTP_URL, and retries the message until it gives up', async () => {
    const email = uniqueEmail('nowhere');
    await queueMail(started.app, 'confirm-email', email, 'Nowhere', 'token-nowhere');

    const row = await settledRow(started.app, email);
    expect(row).toMatchObject({ status: 'failed', attempts: MAX_SEND_ATTEMPTS });
    expect(row.last_error).toMatch(/^SMTP_URL is unreachable: .*ECONNREFUSED.*start the mail server there, fix SMTP_URL, or unset it/);

    const messages = started.logs.map((line) => JSON.parse(line) as { level: string; msg: string });
    const retries = messages.filter((m) => m.level === 'warn' && m.msg.includes(email) && /retrying/.test(m.msg));
    expect(retries).toHaveLength(MAX_SEND_ATTEMPTS - 1);
    expect(retries[0].msg).toMatch(/SMTP_URL is unreachable/);
    expect(messages.some((m) => m.level === 'error' && m.msg.startsWith('Gave up') && m.msg.includes(email))).toBe(true);
    expect((await fetch(`${started.url}/health`)).status).toBe(200);
  });

  it('reports mail down on /health/ready with 503, and logs it once', async () => {
    const response = await fetch(`${started.url}/health/ready`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as any;
    expect(body.dependencies.mail).toMatchObject({
      status: 'down',
      mode: 'smtp',
      error: expect.stringMatching(/^SMTP_URL is unreachable/),
    });
    expect((await fetch(`${started.url}/health/ready`)).status).toBe(503);
    const down = started.logs.filter((line) => line.includes('mail (smtp) is down'));
    expect(down).toHaveLength(1);
    expect(down[0]).toMatch(/SMTP_URL is unreachable/);
  });
});

describe('notify with a mail server that takes the connection and never speaks', () => {
  it('reports mail down on /health/ready naming SMTP_URL and the fix, not a bare "no answer"', async () => {
    const db = await createTestDatabase('postgres');
    const sockets = new Set<import('node:net').Socket>();
    const mute = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const started = await startAppWithLogs({ ...db.env, SMTP_URL: `smtp://127.0.0.1:${(mute.address() as AddressInfo).port}` });
    try {
      const response = await fetch(`${started.url}/health/ready`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).dependencies.mail).toMatchObject({
        status: 'down',
        error: expect.stringMatching(
          /^SMTP_URL is unreachable: Greeting never received \(smtp:\/\/127\.0\.0\.1:\d+\); start the mail server there/,
        ),
      });
    } finally {
      await started.app.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
      await db.dispose();
    }
  });
});

describe('notify when the mail server comes back after an outage', () => {
  let db: TestDatabase;
  let started: Awaited<ReturnType<typeof startAppWithLogs>>;
  let sink: SmtpSink | undefined;
  /**
   * SMTP_URL's address, bound for the whole block (a port given back and bound again later could
   * be taken meanwhile by some outgoing connection): what answers there changes.
   */
  let front: Server;
  const accepted = new Set<Socket>();
  let answer: (socket: Socket) => void;
  /** Nothing there: each connection is cut as it comes. */
  const down = (socket: Socket) => socket.destroy();
  /** The mail server is back: each connection goes through to `target`. */
  const forwardTo = (target: SmtpSink) => (socket: Socket) => {
    const upstream = connect(Number(new URL(target.url).port), '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  };
  /** What answers from now on; the connections of what answered before are cut, as when a server stops. */
  const serve = (next: (socket: Socket) => void) => {
    answer = next;
    for (const socket of accepted) socket.destroy();
  };
  /** A sink of its own, and the front forwarding to it. */
  const back = async () => {
    sink = await startSmtpSink();
    serve(forwardTo(sink));
    return sink;
  };
  /** The front cuts every connection again, and the sink goes. */
  const away = async () => {
    serve(down);
    await sink?.close();
    sink = undefined;
  };

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    answer = down;
    front = createServer((socket) => {
      accepted.add(socket);
      socket.on('close', () => accepted.delete(socket));
      socket.on('error', () => undefined);
      answer(socket);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const { port } = front.address() as AddressInfo;
    // A retry would be 10 minutes away: only the server's return can send the emails in time.
    started = await startAppWithLogs({ ...db.env, SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_BASE_SECONDS: '600' });
  });

  afterAll(async () => {
    await started?.app.close();
    serve(down);
    await new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve()));
    await sink?.close();
    await db?.dispose();
  });

  const waiting = async (email: string) => {
    const row = await firstAttempt(started.app.get(DataSource), email);
    const [{ waits, seconds }] = (await started.app
      .get(DataSource)
      .query(
        `SELECT waits_for_server AS waits, EXTRACT(EPOCH FROM next_attempt_at - now())::float8 AS seconds FROM mail_log WHERE id = $1`,
        [row.id],
      )) as Array<{ waits: boolean; seconds: number }>;
    expect(row.last_error).toMatch(/^SMTP_URL is unreachable/);
    expect(waits).toBe(true);
    expect(seconds).toBeGreaterThan(500);
  };
  const logged = (text: string) => started.logs.some((line) => line.includes(text));

  const rowOf = async (email: string) =>
    (
      (await started.app
        .get(DataSource)
        .query(
          `SELECT status, attempts, free_attempts, waits_for_server, EXTRACT(EPOCH FROM next_attempt_at - now())::float8 AS seconds FROM mail_log WHERE recipient = $1`,
          [email],
        )) as Array<{ status: string; attempts: number; free_attempts: number; waits_for_server: boolean; seconds: number }>
    )[0];

  it('sends what waited for it as soon as it takes another email, checks or not', async () => {
    started.app.get(MailDeliveryWorker).probeEveryMs = 3_600_000;
    const first = uniqueEmail('first');
    await queueMail(started.app, 'confirm-email', first, 'First', 'token-first');
    await waiting(first);

    sink = await back();
    const second = uniqueEmail('second');
    await queueMail(started.app, 'reset-password', second, 'Second', 'token-second');
    await sink.waitFor((mail) => recipientsOf(mail).includes(first), 10_000);
    expect(await settledRow(started.app, first)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await settledRow(started.app, second)).toMatchObject({ status: 'sent', attempts: 1 });
    expect(logged('The mail server took an email: 1 email(s) that waited for it are due now.')).toBe(true);
    await away();
  });

  it('spends no attempt on a server that answers checks but drops every send, and keeps the backoff', async () => {
    started.app.get(MailDeliveryWorker).probeEveryMs = 200;
    const email = uniqueEmail('flaky');
    await queueMail(started.app, 'confirm-email', email, 'Flaky', 'token-flaky');
    await waiting(email);
    const dueIn = (await rowOf(email)).seconds;

    // Greets, answers EHLO and QUIT (a check passes), and hangs up at MAIL FROM (every send fails as unreachable).
    serve((socket) => {
      socket.write('220 flaky.test ESMTP\r\n');
      socket.on('data', (chunk) => {
        const line = chunk.toString();
        if (/^(EHLO|HELO)/i.test(line)) socket.write('250 flaky.test\r\n');
        else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.destroy();
      });
    });
    try {
      const deadline = Date.now() + 15_000;
      while ((await rowOf(email)).free_attempts < 3 && Date.now() < deadline) await pause(100);
    } finally {
      serve(down);
    }
    const row = await rowOf(email);
    expect(row.free_attempts).toBeGreaterThanOrEqual(3);
    expect(row).toMatchObject({ status: 'pending', waits_for_server: true });
    expect(row.attempts - row.free_attempts).toBe(1); // only the first attempt counts
    expect(Math.abs(row.seconds - dueIn)).toBeLessThan(60); // still due when the backoff said
    expect(logged('This early attempt does not count')).toBe(true);

    // And once the server really takes mail, it goes.
    sink = await back();
    await sink.waitFor((mail) => recipientsOf(mail).includes(email), 10_000);
    expect(await settledRow(started.app, email)).toMatchObject({ status: 'sent' });
  });

  it('sends what waited for it within a check of its return, not at the next backoff', async () => {
    await away();
    started.app.get(MailDeliveryWorker).probeEveryMs = 300;
    const email = uniqueEmail('outage');
    await queueMail(started.app, 'confirm-email', email, 'Outage', 'token-outage');
    await waiting(email);

    sink = await back();
    await sink.waitFor((mail) => recipientsOf(mail).includes(email), 10_000);
    expect(await settledRow(started.app, email)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(logged('The mail server answers again: 1 email(s) that waited for it are due now.')).toBe(true);
    expect(sink.messages.filter((mail) => recipientsOf(mail).includes(email))).toHaveLength(1);
  });

  it('does not wait, at shutdown, for a check of a server that accepts the connection and says nothing', async () => {
    await away();
    const email = uniqueEmail('mute');
    started.app.get(MailDeliveryWorker).probeEveryMs = 3_600_000;
    await queueMail(started.app, 'confirm-email', email, 'Mute', 'token-mute');
    await waiting(email);
    const sockets = new Set<Socket>();
    serve((socket) => void sockets.add(socket));
    try {
      started.app.get(MailDeliveryWorker).probeEveryMs = 100;
      started.app.get(MailDeliveryWorker).wake();
      const deadline = Date.now() + 5_000;
      while (sockets.size === 0 && Date.now() < deadline) await pause(20);
      expect(sockets.size).toBeGreaterThan(0); // the check is under way
      const began = Date.now();
      await started.app.close();
      expect(Date.now() - began).toBeLessThan(5_000);
    } finally {
      serve(down);
    }
  });
});

describe('notify with a mail server that takes a message and loses its answer', () => {
  it('counts the attempt and keeps the backoff, not retrying every check: the message may have been delivered', async () => {
    // Speaks SMTP (a check passes), reads each message whole, then hangs up without answering it.
    let bodies = 0;
    const server = createServer((socket) => {
      let inData = false;
      let data = '';
      socket.write('220 lossy.test ESMTP\r\n');
      socket.on('data', (chunk) => {
        if (inData) {
          data += chunk.toString();
          if (data.includes('\r\n.\r\n')) {
            bodies += 1;
            socket.destroy();
          }
          return;
        }
        for (const line of chunk.toString().split('\r\n').filter(Boolean)) {
          if (/^(EHLO|HELO)/i.test(line)) socket.write('250 lossy.test\r\n');
          else if (/^(MAIL FROM|RCPT TO)/i.test(line)) socket.write('250 ok\r\n');
          else if (/^DATA/i.test(line)) {
            inData = true;
            socket.write('354 go ahead\r\n');
          } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
          else socket.write('502 not here\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const db = await createTestDatabase('postgres');
    const started = await startAppWithLogs({
      ...db.env,
      SMTP_URL: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      MAIL_RETRY_BASE_SECONDS: '600',
    });
    try {
      // Checks every 200 ms would bring a message waiting for the server forward each time.
      started.app.get(MailDeliveryWorker).probeEveryMs = 200;
      const email = uniqueEmail('lossy');
      await queueMail(started.app, 'confirm-email', email, 'Lossy', 'token-lossy');
      const row = await firstAttempt(started.app.get(DataSource), email);
      expect(row.last_error).toMatch(
        /^The whole message was written to the mail server .*, but its answer never came .*: it may have been delivered/,
      );
      await pause(2_000);
      expect(bodies).toBe(1);
      const [after] = (await started.app
        .get(DataSource)
        .query(
          `SELECT status, attempts, free_attempts, waits_for_server, EXTRACT(EPOCH FROM next_attempt_at - now())::float8 AS seconds FROM mail_log WHERE recipient = $1`,
          [email],
        )) as Array<{ status: string; attempts: number; free_attempts: number; waits_for_server: boolean; seconds: number }>;
      expect(after).toMatchObject({ status: 'pending', attempts: 1, free_attempts: 0, waits_for_server: false });
      expect(after.seconds).toBeGreaterThan(500);
    } finally {
      await started.app.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.dispose();
    }
  });
});

describe('notify with a mail server that wants a login SMTP_URL does not give', () => {
  it('keeps the message and retries it, reports mail down, and delivers it once SMTP_URL has the login', async () => {
    const db = await createTestDatabase('postgres');
    const sink = await startSmtpSink({ login: { user: 'parley', pass: 's3cret' } });
    const email = uniqueEmail('login');
    try {
      const first = await startAppWithLogs(smtpEnv(db, sink, { MAIL_RETRY_BASE_SECONDS: '60' }));
      try {
        await queueMail(first.app, 'confirm-email', email, 'Login', 'token-login');
        const dataSource = first.app.get(DataSource);
        const row = await firstAttempt(dataSource, email);
        // Retried in 60 s like an outage, not given up on as a refused recipient; the text is kept for it.
        expect(row).toMatchObject({ status: 'pending', attempts: 1, text_body: expect.any(String) });
        expect(row.last_error).toMatch(/^The mail server at SMTP_URL .* wants a login: .*530.*put the user name and password in SMTP_URL/);

        const health = await fetch(`${first.url}/health/ready`);
        expect(health.status).toBe(503);
        expect(((await health.json()) as any).dependencies.mail).toMatchObject({
          status: 'down',
          error: expect.stringMatching(/wants a login/),
        });
        expect(sink.messages).toHaveLength(0);
        // What a send found stands for 5 minutes; then the server is asked again (it answers a connection check).
        const now = Date.now();
        const later = jest.spyOn(Date, 'now').mockReturnValue(now + 6 * 60_000);
        try {
          expect((await fetch(`${first.url}/health/ready`)).status).toBe(200);
        } finally {
          later.mockRestore();
        }
      } finally {
        await first.app.close();
      }

      const withLogin = sink.url.replace('smtp://', 'smtp://parley:s3cret@');
      const second = await startAppWithLogs(smtpEnv(db, sink, { SMTP_URL: withLogin, MAIL_RETRY_BASE_SECONDS: '60' }));
      try {
        // The retry is due in a minute: bring it forward rather than wait.
        await second.app.get(DataSource).query('UPDATE mail_log SET next_attempt_at = now() WHERE recipient = $1', [email]);
        await second.app.get(MailDeliveryWorker).drain();
        expect(await settledRow(second.app, email)).toMatchObject({ status: 'sent', attempts: 2 });
        expect(sink.messages.filter((m) => recipientsOf(m).includes(email))).toHaveLength(1);
        expect((await fetch(`${second.url}/health/ready`)).status).toBe(200);
      } finally {
        await second.app.close();
      }
    } finally {
      await sink.close();
      await db.dispose();
    }
  });
});

describe('notify with a mail server that will not relay for a server without a login', () => {
  it('keeps the message and retries it, and reports mail down, naming the fix', async () => {
    const db = await createTestDatabase('postgres');
    const sink = await startSmtpSink({
      refuseRecipient: () => Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }),
    });
    const email = uniqueEmail('relay');
    try {
      const started = await startAppWithLogs(smtpEnv(db, sink, { MAIL_RETRY_BASE_SECONDS: '60' }));
      try {
        await queueMail(started.app, 'confirm-email', email, 'Relay', 'token-relay');
        const dataSource = started.app.get(DataSource);
        const row = await firstAttempt(dataSource, email);
        expect(row).toMatchObject({ status: 'pending', attempts: 1 });
        expect(row.last_error).toMatch(
          /will not relay for this server: .*554 5\.7\.1 Relay access denied.*put a user name and password in SMTP_URL/,
        );
        expect((await fetch(`${started.url}/health/ready`)).status).toBe(503);
      } finally {
        await started.app.close();
      }
    } finally {
      await sink.close();
      await db.dispose();
    }
  });
});

describe('notify with an unreachable SMTP_URL under APP_ENV=PRODUCTION', () => {
  it('says only "down" on the public /health/ready, and the reason in the log', async () => {
    const db = await createTestDatabase('postgres');
    const port = await closedPort();
    const started = await startAppWithLogs({ ...db.env, ...PRODUCTION, SMTP_URL: `smtp://mailer:hunter2@127.0.0.1:${port}` });
    try {
      const response = await fetch(`${started.url}/health/ready`);
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(JSON.parse(text).dependencies.mail).toEqual({
        status: 'down',
        mode: 'smtp',
        latencyMs: expect.any(Number),
        error: 'down; the server log says why',
      });
      expect(text).not.toContain(String(port));
      expect(text).not.toContain('mailer');
      const down = started.logs.filter((line) => line.includes('mail (smtp) is down'));
      expect(down).toHaveLength(1);
      expect(down[0]).toMatch(/SMTP_URL is unreachable/);
      expect(down[0]).not.toContain('hunter2');
    } finally {
      await started.app.close();
      await db.dispose();
    }
  });
});

describe('notify when the outbox cannot take mail', () => {
  it('starts all the same and says so in the log at once, naming the outbox and the fix', async () => {
    const db = await createTestDatabase('postgres');
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-outbox-'));
    writeFileSync(join(dataDir, 'outbox'), 'a file where the outbox would go');
    const started = await startAppWithLogs({ ...db.env, DATA_DIR: dataDir });
    try {
      const down = async () => started.logs.filter((line) => line.includes('mail (outbox) is down'));
      for (let i = 0; i < 100 && (await down()).length === 0; i++) await pause(50);
      expect(await down()).toEqual([expect.stringMatching(/The mail outbox .*outbox is not writable: .*or set SMTP_URL/)]);
      expect((await fetch(`${started.url}/health`)).status).toBe(200);
    } finally {
      await started.app.close();
      rmSync(dataDir, { recursive: true, force: true });
      await db.dispose();
    }
  });
});

describe.each(DATABASE_KINDS)('notify with the outbox (%s database)', (kind) => {
  let db: TestDatabase;
  let started: Awaited<ReturnType<typeof startAppWithLogs>>;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    started = await startAppWithLogs({ ...db.env, PUBLIC_URL });
  });

  afterAll(async () => {
    await started?.app.close();
    await db?.dispose();
  });

  it('writes the reset email as a parseable .eml file under DATA_DIR/outbox and logs its link', async () => {
    const email = uniqueEmail('outbox');
    await queueMail(started.app, 'reset-password', email, 'Out Box', 'r&s t');

    const row = await settledRow(started.app, email);
    expect(row).toMatchObject({ status: 'sent', attempts: 1 });
    const outbox = join(db.env.DATA_DIR, 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith(`${row.id}.eml`));
    expect(files).toHaveLength(1);
    // It holds a live reset link: only the server's user may read it.
    expect(statSync(join(outbox, files[0])).mode & 0o777).toBe(0o600);
    expect(statSync(outbox).mode & 0o777).toBe(0o700);

    const mail = await simpleParser(readFileSync(join(outbox, files[0])));
    const link = `${PUBLIC_URL}/ui/#/reset-password?token=r%26s%20t`;
    expect(mail.subject).toBe('Reset your Parley password');
    expect(mail.from?.value).toEqual([{ address: 'no-reply@parley.local', name: 'Parley' }]);
    expect(recipientsOf(mail)).toEqual([email]);
    expect(mail.text).toContain(link);
    expect(mail.html).toContain(`href="${link}"`);
    expect(started.logs.some((line) => (JSON.parse(line) as { msg: string }).msg.includes(link))).toBe(true);
  });

  it('reports mail up in outbox mode on /health/ready', async () => {
    const response = await fetch(`${started.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).dependencies.mail).toEqual({ status: 'up', mode: 'outbox', latencyMs: expect.any(Number) });
  });
});

describe('notify with the outbox under APP_ENV=PRODUCTION', () => {
  it('writes the email but keeps its link, a live token, out of the log', async () => {
    const db = await createTestDatabase('postgres');
    const started = await startAppWithLogs({ ...db.env, ...PRODUCTION });
    try {
      const email = uniqueEmail('production');
      await queueMail(started.app, 'reset-password', email, 'Pro Duction', 'live-token-123');
      expect(await settledRow(started.app, email)).toMatchObject({ status: 'sent' });
      const mailLines = started.logs.filter((line) => line.includes(email));
      expect(mailLines).toHaveLength(1);
      expect(started.logs.filter((line) => line.includes('live-token-123'))).toEqual([]);
    } finally {
      await started.app.close();
      await db.dispose();
    }
  });
});

describe('notify with an outbox that cannot be written', () => {
  it('reports mail down on /health/ready, naming the directory', async () => {
    const db = await createTestDatabase('postgres');
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-outbox-'));
    writeFileSync(join(dataDir, 'outbox'), 'a file where the directory should be');
    const started = await startAppWithLogs({ ...db.env, DATA_DIR: dataDir });
    try {
      const response = await fetch(`${started.url}/health/ready`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).dependencies.mail).toMatchObject({
        status: 'down',
        mode: 'outbox',
        error: expect.stringContaining(`The mail outbox ${join(dataDir, 'outbox')} is not writable`),
      });
    } finally {
      await started.app.close();
      await db.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe.each(DATABASE_KINDS)('notify at shutdown (%s database)', (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });

  afterAll(async () => {
    await db?.dispose();
  });

  it('sends after a restart an email still pending at shutdown', async () => {
    // The mail server is down while the first instance runs: the email waits for its retry.
    const first = await startAppWithLogs({ ...db.env, SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, MAIL_RETRY_BASE_SECONDS: '1' });
    const email = uniqueEmail('shutdown');
    try {
      await queueMail(first.app, 'confirm-email', email, 'Shut Down', 'token-1');
      const deadline = Date.now() + 10_000;
      while (!first.logs.some((line) => line.includes(email) && line.includes('retrying')) && Date.now() < deadline) await pause(20);
    } finally {
      await first.app.close();
    }
    expect(first.logs.filter((line) => line.includes(email) && line.includes('retrying'))).toHaveLength(1);

    const second = await startAppWithLogs(db.env);
    try {
      expect(await settledRow(second.app, email)).toMatchObject({ template: 'confirm-email', status: 'sent', attempts: 2 });
    } finally {
      await second.app.close();
    }
  });
});
