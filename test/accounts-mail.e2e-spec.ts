import type { ParsedMail } from 'mailparser';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { MailDeliveryWorker } from '../src/modules/notify/mail-delivery.worker.js';
import { EmailLinksService } from '../src/modules/auth/email-links.service.js';
import { uniqueEmail } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const PUBLIC_URL = 'https://parley.example.org';

const sentTo = (email: string) => (mail: ParsedMail) =>
  ([] as Array<{ value: Array<{ address?: string }> }>)
    .concat((mail.to ?? []) as never)
    .some((to) => to.value.some((v) => v.address === email));

/** The single link to the test page in the plain-text part, and the token it carries. */
function linkIn(mail: ParsedMail, route: 'confirm-email' | 'reset-password'): { link: string; token: string } {
  const links = (mail.text ?? '').match(/https?:\/\/\S+/g) ?? [];
  expect(links).toHaveLength(1);
  const link = links[0]!;
  const url = new URL(link);
  expect(`${url.origin}${url.pathname}`).toBe(`${PUBLIC_URL}/ui/`);
  const [path, query] = url.hash.replace(/^#/, '').split('?');
  expect(path).toBe(`/${route}`);
  const token = new URLSearchParams(query).get('token');
  expect(token).toEqual(expect.any(String));
  return { link, token: token! };
}

describe('accounts over real email (SMTP)', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink();
    app = await startTestApp({
      ...db.env,
      MODULES: 'auth,users,notify',
      SMTP_URL: sink.url,
      PUBLIC_URL,
      MAIL_RETRY_BASE_SECONDS: '0',
    });
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await db?.dispose();
  });

  it('confirms a new account with the link from the confirmation email', async () => {
    const email = uniqueEmail('confirm');
    const password = 'first-passw0rd';
    const signUp = await request('POST', '/api/v1/auth/sign-up', { body: { email, password, name: 'Mail Reader' } });
    expect(signUp.status).toBe(201);
    expect(signUp.body.emailConfirmed).toBe(false);

    const mail = await sink.waitFor(sentTo(email));
    expect(mail.subject).toBe('Confirm your email address for Parley');
    // The address is not proven yet: the name its account chose is not put into the mail.
    expect(mail.to).toMatchObject({ value: [{ address: email, name: '' }] });
    expect(mail.text).toMatch(/^Hi, welcome to Parley!/);
    expect(`${mail.text} ${mail.html}`).not.toContain('Mail Reader');
    const { token } = linkIn(mail, 'confirm-email');

    expect((await request('POST', '/api/v1/auth/confirm-email', { body: { token } })).status).toBe(204);
    // Once it is, mail to it greets its owner by name.
    expect((await request('POST', '/api/v1/auth/password/forgot', { body: { email } })).status).toBe(202);
    const reset = await sink.waitFor((m) => sentTo(email)(m) && m.subject === 'Reset your Parley password');
    expect(reset.to).toMatchObject({ value: [{ address: email, name: 'Mail Reader' }] });
    expect(reset.text).toMatch(/^Hi Mail Reader, someone/);

    const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
    const me = await request('GET', '/api/v1/users/me', { token: signIn.body.accessToken });
    expect(me.body).toMatchObject({ id: signUp.body.id, email, emailConfirmed: true });
    expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token } }), 400, 'INVALID_TOKEN');
  });

  it('sends a new confirmation email when asked: only its link works, and a confirmed address answers 409', async () => {
    const email = uniqueEmail('again');
    const password = 'again-passw0rd';
    expect((await request('POST', '/api/v1/auth/sign-up', { body: { email, password, name: 'Again' } })).status).toBe(201);
    const first = await sink.waitFor(sentTo(email));
    const { accessToken } = (await request('POST', '/api/v1/auth/sign-in', { body: { email, password } })).body;
    expectErrorShape(await request('POST', '/api/v1/auth/confirm-email/resend'), 401, 'UNAUTHENTICATED');

    const resend = await request('POST', '/api/v1/auth/confirm-email/resend', { token: accessToken });
    expect({ status: resend.status, body: resend.body }).toEqual({ status: 202, body: '' });
    const second = await sink.waitFor((m) => m !== first && sentTo(email)(m));
    expect(second.subject).toBe('Confirm your email address for Parley');

    expectErrorShape(
      await request('POST', '/api/v1/auth/confirm-email', { body: { token: linkIn(first, 'confirm-email').token } }),
      400,
      'INVALID_TOKEN',
    );
    expect((await request('POST', '/api/v1/auth/confirm-email', { body: { token: linkIn(second, 'confirm-email').token } })).status).toBe(
      204,
    );
    expectErrorShape(await request('POST', '/api/v1/auth/confirm-email/resend', { token: accessToken }), 409, 'EMAIL_ALREADY_CONFIRMED');
    expect(sink.messages.filter(sentTo(email))).toHaveLength(2);
  });

  it('resets a forgotten password with the link from the reset email, ending the old sessions', async () => {
    const email = uniqueEmail('reset');
    const oldPassword = 'old-passw0rd';
    const newPassword = 'new-passw0rd';
    expect((await request('POST', '/api/v1/auth/sign-up', { body: { email, password: oldPassword, name: 'Forgetful' } })).status).toBe(201);
    const before = await request('POST', '/api/v1/auth/sign-in', { body: { email, password: oldPassword } });

    expect((await request('POST', '/api/v1/auth/password/forgot', { body: { email } })).status).toBe(202);
    const mail = await sink.waitFor((m) => sentTo(email)(m) && m.subject === 'Reset your Parley password');
    const { token } = linkIn(mail, 'reset-password');
    expect((await request('POST', '/api/v1/auth/password/reset', { body: { token, password: newPassword } })).status).toBe(204);

    const withNew = await request('POST', '/api/v1/auth/sign-in', { body: { email, password: newPassword } });
    expect(withNew.status).toBe(200);
    // The link reached the mailbox, so it proves the address too.
    expect(withNew.body.user.emailConfirmed).toBe(true);
    expectErrorShape(await request('POST', '/api/v1/auth/sign-in', { body: { email, password: oldPassword } }), 401, 'INVALID_CREDENTIALS');
    expect((await request('GET', '/api/v1/users/me', { token: before.body.accessToken })).status).toBe(401);
  });
});

describe('password reset emails per account (RATE_LIMIT_AUTH_PER_ACCOUNT)', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink();
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,notify', SMTP_URL: sink.url, PUBLIC_URL, RATE_LIMIT_AUTH_PER_ACCOUNT: '2' });
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await db?.dispose();
  });

  /** The reset emails queued for an account, once every reset request answered so far has made its link. */
  const resetRows = async (userId: string) => {
    await app.app.get(EmailLinksService).resetRequestsSettled();
    const [{ n }] = await app.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM mail_log WHERE user_id = $1 AND template = 'reset-password'`, [userId]);
    return n as number;
  };

  it('answers the third forgot-password request for one account 429, from whichever address and however the email is written', async () => {
    const signUp = async (email: string) =>
      (await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'passw0rd-1', name: 'Forgetful' } })).body.id as string;
    const [email, otherEmail] = [uniqueEmail('forgetful'), uniqueEmail('bystander')];
    const [userId, otherId] = [await signUp(email), await signUp(otherEmail)];
    // Three addresses (TRUST_PROXY believes the loopback proxy the tests are): not the per-address limit.
    const forgot = (as: string, from: string) =>
      request('POST', '/api/v1/auth/password/forgot', { body: { email: as }, headers: { 'x-forwarded-for': from } });
    const mixedCase = email.replace(/^./, (c) => c.toUpperCase()).replace('@example', '@EXAMPLE');

    const answers = [
      await forgot(email, '198.51.100.1'),
      await forgot(email.toUpperCase(), '198.51.100.2'),
      await forgot(mixedCase, '203.0.113.3'),
    ];
    expect(answers.map((a) => a.status)).toEqual([202, 202, 429]);
    expectErrorShape(answers[2], 429, 'RATE_LIMITED');
    expect(Number(answers[2].headers.get('retry-after'))).toBeGreaterThan(800); // the account's window is 15 minutes
    expect(await resetRows(userId)).toBe(2);

    // Another account is not held back, from an address the refused request came from.
    expect((await forgot(otherEmail, '203.0.113.3')).status).toBe(202);
    expect(await resetRows(otherId)).toBe(1);
  });
});

describe('accounts when the SMTP server refuses every message', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  let refused = 0;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink({
      reject: () => {
        refused += 1;
        return Object.assign(new Error('Relaying denied'), { responseCode: 554 });
      },
    });
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,notify', SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '0' });
  });

  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await db?.dispose();
  });

  it('still creates the account (201) and lets it sign in, while the email is tried and refused', async () => {
    const request = httpClient(app.url);
    const email = uniqueEmail('unmailable');

    const signUp = await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'passw0rd-x', name: 'No Mail' } });

    expect(signUp.status).toBe(201);
    expect(signUp.body).toMatchObject({ email, emailConfirmed: false });
    const deadline = Date.now() + 15_000;
    while (refused === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(refused).toBeGreaterThan(0);
    expect(sink.messages).toHaveLength(0);
    expect((await request('POST', '/api/v1/auth/sign-in', { body: { email, password: 'passw0rd-x' } })).status).toBe(200);
  });
});

describe('accounts while the mail server is busy', () => {
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  /** Addresses whose next reset emails the server turns away for now (451). */
  const busyFor = new Map<string, number>();

  const mailRows = async (email: string) => {
    const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT template, status, attempts, last_error FROM mail_log WHERE recipient = $1 ORDER BY created_at`,
        [email],
      );
      return rows as Array<{ template: string; status: string; attempts: number; last_error: string | null }>;
    } finally {
      await client.end();
    }
  };

  const until = async (what: string, done: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 15_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink({
      reject: (raw, session) => {
        if (!raw.toString().includes('X-Parley-Template: reset-password')) return undefined;
        for (const { address } of session.envelope.rcptTo) {
          const left = busyFor.get(address) ?? 0;
          if (left > 0) {
            busyFor.set(address, left - 1);
            return Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 });
          }
        }
        return undefined;
      },
    });
    // A refused email is tried again an hour later: not within a test, unless the test makes it due.
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,notify', SMTP_URL: sink.url, PUBLIC_URL, MAIL_RETRY_BASE_SECONDS: '3600' });
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await db?.dispose();
  });

  it('drops an older reset email still waiting for its retry once a newer one is queued: only the newer link arrives', async () => {
    const email = uniqueEmail('twice');
    expect((await request('POST', '/api/v1/auth/sign-up', { body: { email, password: 'passw0rd-1', name: 'Twice' } })).status).toBe(201);
    busyFor.set(email, 1);

    const resets = async () => (await mailRows(email)).filter((r) => r.template === 'reset-password');
    expect((await request('POST', '/api/v1/auth/password/forgot', { body: { email } })).status).toBe(202);
    await until('the first reset email to be refused and its retry set', async () =>
      (await resets()).some((r) => r.status === 'pending' && r.attempts === 1 && r.last_error !== null),
    );
    expect((await request('POST', '/api/v1/auth/password/forgot', { body: { email } })).status).toBe(202);
    const newer = await sink.waitFor((m) => sentTo(email)(m) && m.subject === 'Reset your Parley password');
    await until('the newer reset email to be recorded sent', async () => (await resets()).some((r) => r.status === 'sent'));
    expect((await resets()).map((r) => [r.status, r.attempts])).toEqual([
      ['pending', 1], // still waiting for its retry
      ['sent', 1],
    ]);

    // The older one's retry comes due: it is dropped, not sent.
    await app.app.get(DataSource).query(`UPDATE mail_log SET next_attempt_at = now() WHERE recipient = $1 AND status = 'pending'`, [email]);
    await app.app.get(MailDeliveryWorker).drain();
    const settled = await resets();
    expect(settled.map((r) => [r.status, r.attempts])).toEqual([
      ['failed', 1], // not tried again
      ['sent', 1],
    ]);
    expect(settled[0].last_error).toMatch(/451.*; dropped: a newer email of the same kind to the same user replaced it$/);
    expect(settled[0].last_error).not.toContain('.;'); // one sentence's end, not two
    expect(sink.messages.filter((m) => sentTo(email)(m) && m.subject === 'Reset your Parley password')).toEqual([newer]);
    const { token } = linkIn(newer, 'reset-password');
    expect((await request('POST', '/api/v1/auth/password/reset', { body: { token, password: 'passw0rd-2' } })).status).toBe(204);
  });

  it('creates an account only together with its confirmation email: when the email cannot be queued, sign-up fails and leaves nothing', async () => {
    const email = uniqueEmail('unqueueable');
    const admin = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE FUNCTION refuse_mail() RETURNS trigger LANGUAGE plpgsql AS $$
                           BEGIN RAISE EXCEPTION 'mail_log refuses %', NEW.recipient; END $$`);
      await admin.query(`CREATE TRIGGER refuse_mail BEFORE INSERT ON mail_log FOR EACH ROW
                           WHEN (NEW.recipient = '${email}') EXECUTE FUNCTION refuse_mail()`);
      const body = { email, password: 'passw0rd-1', name: 'Unqueueable' };
      expectErrorShape(await request('POST', '/api/v1/auth/sign-up', { body }), 500, 'INTERNAL_ERROR');
      expect((await admin.query(`SELECT count(*)::int AS n FROM users WHERE email = $1`, [email])).rows[0].n).toBe(0);
      expect(
        (await admin.query(`SELECT count(*)::int AS n FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = $1`, [email]))
          .rows[0].n,
      ).toBe(0);

      await admin.query(`DROP TRIGGER refuse_mail ON mail_log`);
      expect((await request('POST', '/api/v1/auth/sign-up', { body })).status).toBe(201);
      await sink.waitFor((m) => sentTo(email)(m) && m.subject === 'Confirm your email address for Parley');
    } finally {
      await admin.query(`DROP TRIGGER IF EXISTS refuse_mail ON mail_log`);
      await admin.end();
    }
  });
});
