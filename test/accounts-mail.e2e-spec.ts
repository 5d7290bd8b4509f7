import type { ParsedMail } from 'mailparser';
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
    const { token } = linkIn(mail, 'confirm-email');

    expect((await request('POST', '/api/v1/auth/confirm-email', { body: { token } })).status).toBe(204);

    const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
    const me = await request('GET', '/api/v1/users/me', { token: signIn.body.accessToken });
    expect(me.body).toMatchObject({ id: signUp.body.id, email, emailConfirmed: true });
    expectErrorShape(await request('POST', '/api/v1/auth/confirm-email', { body: { token } }), 400, 'INVALID_TOKEN');
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
