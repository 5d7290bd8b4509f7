import { randomBytes, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import argon2 from 'argon2';
import { DataSource, type MigrationInterface } from 'typeorm';
import { EmailsInOneForm1795700000000 } from '../migrations/1795700000000-emails-in-one-form.js';
import { NamesAndTitlesInNfc1795900000000 } from '../migrations/1795900000000-names-and-titles-in-nfc.js';
import { PasswordHasher } from '../src/modules/auth/password-hasher.js';
import { signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const NFC_U_UMLAUT = '\u00fc'; // ü as one character
const NFD_U_UMLAUT = 'u\u0308'; // u + combining diaeresis: the same letter, typed on another device

describe('text in any Unicode form', () => {
  let db: TestDatabase;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    app = await startTestApp(db.env);
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  const tag = () => randomBytes(4).toString('hex');
  const signUp = (email: string, password = 'passw0rd-x', name = 'Someone') =>
    request('POST', '/api/v1/auth/sign-up', { body: { email, password, name } });

  it('refuses a body that is not UTF-8, and half a surrogate pair in any field, changing nothing', async () => {
    const account = await signUpAndIn(request, 'Kept Name');
    const rename = (raw: string | Buffer) =>
      request('PATCH', '/api/v1/users/me', { raw, token: account.accessToken, headers: { 'content-type': 'application/json' } });

    const bytes = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}')]);
    const notUtf8 = await rename(Buffer.from(bytes));
    expectErrorShape(notUtf8, 400, 'MALFORMED_JSON');
    expect(notUtf8.body.message).toBe('The request body is not valid UTF-8.');

    const lone = await rename('{"name":"a\\ud800b"}');
    expectErrorShape(lone, 400, 'VALIDATION_FAILED');
    expect(lone.body.details).toEqual([{ field: 'name', message: 'name holds half of a UTF-16 surrogate pair, which is no character' }]);
    // A whole pair (an emoji written as escapes) is fine.
    expect((await rename('{"name":"Ada \\ud83d\\ude80"}')).body.name).toBe('Ada \u{1f680}');
  });

  it('refuses control characters, direction overrides and invisible spaces in names and titles; emoji joiners pass', async () => {
    const account = await signUpAndIn(request, 'Plain');
    const rename = (name: string) => request('PATCH', '/api/v1/users/me', { body: { name }, token: account.accessToken });
    for (const name of ['A\u001b[31mRED', 'bell\u0007', 'evil\u202egpj.exe', 'zero\u200bwidth', 'byte\ufefforder', 'C1\u0085']) {
      const refused = await rename(name);
      expectErrorShape(refused, 400, 'VALIDATION_FAILED');
      expect(refused.body.details).toEqual([
        { field: 'name', message: 'name must not contain control characters, direction overrides or invisible spaces' },
      ]);
    }
    for (const title of ['Team\u2066 x', 'Team\ufeffx']) {
      const refused = await request('POST', '/api/v1/chats', { token: account.accessToken, body: { type: 'group', title } });
      expectErrorShape(refused, 400, 'VALIDATION_FAILED');
    }
    expect((await request('GET', '/api/v1/users/me', { token: account.accessToken })).body.name).toBe('Plain');
    // A family emoji is joined with U+200D; tabs and new lines still fold to one space.
    expect((await rename('Fam \u{1f468}\u200d\u{1f469}\u200d\u{1f467}\tily\nname')).body.name).toBe(
      'Fam \u{1f468}\u200d\u{1f469}\u200d\u{1f467} ily name',
    );
  });

  it('stores names and titles in NFC: one title whichever way it was typed, and search finds either form', async () => {
    const owner = await signUpAndIn(request, `J${NFD_U_UMLAUT}rgen ${tag()}`);
    expect(owner.user.name.startsWith(`J${NFC_U_UMLAUT}rgen`)).toBe(true);
    const group = (title: string) => request('POST', '/api/v1/chats', { token: owner.accessToken, body: { type: 'group', title } });
    const first = await group(`Caf\u00e9 ${NFC_U_UMLAUT}`);
    expect(first.status).toBe(201);
    expectErrorShape(await group(`Cafe\u0301 ${NFD_U_UMLAUT}`), 409, 'CHAT_TITLE_TAKEN');

    const found = await request('GET', `/api/v1/users?query=${encodeURIComponent(`J${NFD_U_UMLAUT}rgen`)}`, { token: owner.accessToken });
    expect(found.body.items.map((u: { id: string }) => u.id)).toContain(owner.user.id);
  });

  it('judges the length of a name or title in the form it is stored: NFC, white space folded', async () => {
    const account = await signUpAndIn(request, 'Kept Name');
    const rename = (name: string) => request('PATCH', '/api/v1/users/me', { token: account.accessToken, body: { name } });
    const group = (title: string) => request('POST', '/api/v1/chats', { token: account.accessToken, body: { type: 'group', title } });
    const QA = '\u0958'; // a Devanagari letter that NFC writes as two code points (U+0915 U+093C)

    // 64 code points as typed, 128 as stored: over the limit, and nothing stored.
    const grown = await rename(QA.repeat(64));
    expectErrorShape(grown, 400, 'VALIDATION_FAILED');
    expect(grown.body.details).toEqual([expect.objectContaining({ field: 'name' })]);
    expectErrorShape(await group(QA.repeat(255)), 400, 'VALIDATION_FAILED');
    expect((await signUp(`qa-${tag()}@example.com`, 'passw0rd-x', QA.repeat(64))).status).toBe(400);
    expect((await request('GET', '/api/v1/users/me', { token: account.accessToken })).body.name).toBe('Kept Name');

    // 128 code points as typed (decomposed), 64 as stored; and a run of spaces stored as one.
    const decomposed = await rename(`e\u0301`.repeat(64));
    expect({ status: decomposed.status, name: decomposed.body.name }).toEqual({ status: 200, name: '\u00e9'.repeat(64) });
    const folded = await rename(`a${' '.repeat(100)}b`);
    expect({ status: folded.status, name: folded.body.name }).toEqual({ status: 200, name: 'a b' });
    const title = `${'t'.repeat(200)}${' '.repeat(100)}x`;
    expect((await group(title)).body.title).toBe(`${'t'.repeat(200)} x`);
  });

  it('takes an email in one form only: NFC, lower case, the domain in ASCII; invisible characters refused', async () => {
    const local = `j${NFC_U_UMLAUT}rgen-${tag()}`;
    expect((await signUp(`${local}@example.com`)).status).toBe(201);
    expectErrorShape(await signUp(`${local.normalize('NFD').toUpperCase()}@EXAMPLE.com`), 409, 'EMAIL_TAKEN');

    const box = `box-${tag()}`;
    const created = await signUp(`${box}@b${NFC_U_UMLAUT}cher.example`);
    expect(created.status).toBe(201);
    expect(created.body.email).toBe(`${box}@xn--bcher-kva.example`);
    expectErrorShape(await signUp(`${box}@xn--bcher-kva.example`), 409, 'EMAIL_TAKEN');
    // Signing in works with either form.
    const signIn = await request('POST', '/api/v1/auth/sign-in', {
      body: { email: `${box}@b${NFD_U_UMLAUT}cher.example`, password: 'passw0rd-x' },
    });
    expect(signIn.status).toBe(200);

    for (const invisible of ['\u200b', '\u00ad', '\u200e', '\u2062']) {
      const hidden = await signUp(`ju${invisible}rgen-${tag()}@example.com`);
      expectErrorShape(hidden, 400, 'VALIDATION_FAILED');
      expect(hidden.body.details[0].field).toBe('email');
    }
  });

  it('takes a password in either Unicode form: the one the user typed on another device signs in', async () => {
    const email = `pw-${tag()}@example.com`;
    expect((await signUp(email, `p${'\u00e4'}ssword1`)).status).toBe(201);
    const signIn = (password: string) => request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
    expect((await signIn(`pa\u0308ssword1`)).status).toBe(200);
    expect((await signIn(`p${'\u00e4'}ssword1`)).status).toBe(200);
    expectErrorShape(await signIn('password1'), 401, 'INVALID_CREDENTIALS');
  });

  it('stores a new hash of a password that matched one made the old way: of the form as typed, or with other argon2 parameters', async () => {
    const dataSource = app.app.get(DataSource);
    const storedHash = async (id: string) =>
      ((await dataSource.query('SELECT password_hash FROM users WHERE id = $1', [id])) as Array<{ password_hash: string }>)[0]
        .password_hash;
    const legacyAccount = async (hash: string) => {
      const id = randomUUID();
      const email = `legacy-${tag()}@example.com`;
      await dataSource.query(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Legacy', $3)`, [id, email, hash]);
      const signIn = (password: string) => request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
      return { id, signIn };
    };
    const parameters = (hash: string) =>
      Object.fromEntries(
        hash
          .split('$')[3]
          .split(',')
          .map((kv) => kv.split('=')),
      );

    // Hashed before passwords were put in NFC: only the form typed then matched it.
    const typedDecomposed = `pa\u0308ssword1`;
    const composed = `p\u00e4ssword1`;
    const before = await argon2.hash(typedDecomposed, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const decomposed = await legacyAccount(before);
    expectErrorShape(await decomposed.signIn(composed), 401, 'INVALID_CREDENTIALS');
    expect((await decomposed.signIn(typedDecomposed)).status).toBe(200);
    expect(await storedHash(decomposed.id)).not.toBe(before);
    // Now either form signs in, as for accounts made since.
    expect((await decomposed.signIn(composed)).status).toBe(200);
    expect((await decomposed.signIn(typedDecomposed)).status).toBe(200);

    // Hashed with weaker parameters than today's.
    const weak = await argon2.hash('passw0rd-x', { type: argon2.argon2id, memoryCost: 4_096, timeCost: 1, parallelism: 1 });
    const older = await legacyAccount(weak);
    expectErrorShape(await older.signIn('passw0rd-y'), 401, 'INVALID_CREDENTIALS');
    expect(await storedHash(older.id)).toBe(weak);
    expect((await older.signIn('passw0rd-x')).status).toBe(200);
    const upgraded = await storedHash(older.id);
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$/);
    expect(parameters(upgraded)).toEqual({ m: '19456', t: '2', p: '1' });
    expect((await older.signIn('passw0rd-x')).status).toBe(200);
    // A hash of today's kind is left alone.
    expect(await storedHash(older.id)).toBe(upgraded);
  });

  it("signs in with the right password while another sign-in replaces the account's old hash, and not with a password reset meanwhile", async () => {
    const dataSource = app.app.get(DataSource);
    const hasher = app.app.get(PasswordHasher);
    const id = randomUUID();
    const email = `race-${tag()}@example.com`;
    const weak = await argon2.hash('passw0rd-x', { type: argon2.argon2id, memoryCost: 4_096, timeCost: 1, parallelism: 1 });
    await dataSource.query(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Racer', $3)`, [id, email, weak]);
    const signIn = (password: string) => request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
    /** Runs `meanwhile` right after the next sign-in has checked the password, before it opens its session. */
    const afterNextCheck = (meanwhile: () => Promise<unknown>) => {
      const verify = hasher.verify.bind(hasher);
      const spy = jest.spyOn(hasher, 'verify').mockImplementationOnce(async (hash, password) => {
        const result = await verify(hash, password);
        await meanwhile();
        return result;
      });
      return () => spy.mockRestore();
    };

    // Another device's sign-in stores today's hash of the same password in that moment: still 200.
    let restore = afterNextCheck(async () =>
      dataSource.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [id, await hasher.hash('passw0rd-x')]),
    );
    try {
      expect((await signIn('passw0rd-x')).status).toBe(200);
    } finally {
      restore();
    }
    // A reset to another password in that moment: the old one no longer signs in.
    restore = afterNextCheck(async () =>
      dataSource.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [id, await hasher.hash('new-passw0rd')]),
    );
    try {
      expectErrorShape(await signIn('passw0rd-x'), 401, 'INVALID_CREDENTIALS');
    } finally {
      restore();
    }
    expect((await signIn('new-passw0rd')).status).toBe(200);
  });

  it('rewrites the addresses stored before in their one form, so those accounts sign in, and leaves one whose form is taken', async () => {
    const dataSource = app.app.get(DataSource);
    const password = 'passw0rd-x';
    const t = tag();
    const taken = await signUp(`k${NFC_U_UMLAUT}rt-${t}@example.com`, password);
    const [{ password_hash: hash }] = (await dataSource.query('SELECT password_hash FROM users WHERE id = $1', [taken.body.id])) as Array<{
      password_hash: string;
    }>;
    const legacy = async (email: string) => {
      const id = randomUUID();
      await dataSource.query(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Legacy', $3)`, [id, email, hash]);
      return id;
    };
    const idn = await legacy(`box-${t}@b${NFC_U_UMLAUT}cher.example`);
    const decomposed = await legacy(`j${NFD_U_UMLAUT}rgen-${t}@example.com`);
    const collider = await legacy(`k${NFD_U_UMLAUT}rt-${t}@example.com`);

    const warnings = await runMigration(dataSource, new EmailsInOneForm1795700000000());
    const emailOf = async (id: string) =>
      ((await dataSource.query('SELECT email FROM users WHERE id = $1', [id])) as Array<{ email: string }>)[0].email;
    expect(await emailOf(idn)).toBe(`box-${t}@xn--bcher-kva.example`);
    expect(await emailOf(decomposed)).toBe(`j${NFC_U_UMLAUT}rgen-${t}@example.com`);
    expect(await emailOf(collider)).toBe(`k${NFD_U_UMLAUT}rt-${t}@example.com`);
    expect(warnings.filter((m) => m.includes(collider))).toEqual([expect.stringContaining(`belongs to user ${taken.body.id}`)]);
    const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email: `box-${t}@b${NFC_U_UMLAUT}cher.example`, password } });
    expect(signIn.status).toBe(200);
  });

  it('rewrites names and titles stored before in NFC, leaving a title whose NFC form its owner already has', async () => {
    const dataSource = app.app.get(DataSource);
    const owner = await signUpAndIn(request, 'Owner');
    const t = tag();
    await dataSource.query(`UPDATE users SET name = $2 WHERE id = $1`, [owner.user.id, `Ana\u0308 ${t}`]);
    const chat = async (title: string) => {
      const id = randomUUID();
      await dataSource.query(`INSERT INTO chats (id, type, title, owner_id) VALUES ($1, 'group', $2, $3)`, [id, title, owner.user.id]);
      return id;
    };
    const lone = await chat(`Cafe\u0301 ${t}`);
    const kept = await chat(`Cre\u0300me ${t}`);
    const twin = await chat(`Cr\u00e8me ${t}`.toUpperCase());

    const warnings = await runMigration(dataSource, new NamesAndTitlesInNfc1795900000000());
    const titleOf = async (id: string) =>
      ((await dataSource.query('SELECT title FROM chats WHERE id = $1', [id])) as Array<{ title: string }>)[0].title;
    expect(await titleOf(lone)).toBe(`Caf\u00e9 ${t}`);
    expect([await titleOf(kept), await titleOf(twin)]).toEqual([`Cre\u0300me ${t}`, `CR\u00c8ME ${t.toUpperCase()}`]);
    expect(warnings.filter((m) => m.includes(kept))).toHaveLength(1);
    const found = await request('GET', `/api/v1/users?query=${encodeURIComponent(`An\u00e4 ${t}`)}`, { token: owner.accessToken });
    expect(found.body.items.map((u: { id: string }) => u.id)).toEqual([owner.user.id]);
  });
});

/** Runs one migration's `up` on the app's database again; answers the warnings it printed. */
async function runMigration(dataSource: DataSource, migration: MigrationInterface): Promise<string[]> {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const runner = dataSource.createQueryRunner();
  try {
    await migration.up(runner);
    return warn.mock.calls.map((c) => String(c[0]));
  } finally {
    await runner.release();
    warn.mockRestore();
  }
}
