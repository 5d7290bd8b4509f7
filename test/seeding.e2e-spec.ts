import { jest } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { migrate } from '../src/cli/migrate.js';
import { seed } from '../src/cli/seed.js';
import { createApp } from '../src/app.factory.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { loadConfig } from '../src/config/app-config.js';
import { ConfigError } from '../src/config/env-reader.js';
import { PasswordHasher } from '../src/modules/auth/password-hasher.js';
import { MIGRATIONS } from '../migrations/index.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';

const SEEDED = [
  { email: 'admin@admin.ru', name: 'Admin' },
  { email: 'api-test@example.com', name: 'API Test' },
  { email: 'user1@example.com', name: 'User One' },
  { email: 'user2@example.com', name: 'User Two' },
  { email: 'user3@example.com', name: 'User Three' },
];
const SEEDING_MODULES = 'auth,users,chats,messages,seeding';
const PRODUCTION_SECRETS = {
  JWT_ACCESS_SECRET: 'a'.repeat(40),
  JWT_REFRESH_SECRET: 'r'.repeat(40),
  PUBLIC_URL: 'https://chat.example.com',
};

interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  email_confirmed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface Started {
  app: NestExpressApplication;
  request: ReturnType<typeof httpClient>;
  /** Log messages of the Seeding context. */
  seedingLogs: string[];
  /** Every log line so far, parsed. */
  logs: Array<{ level: string; context?: string; msg: string }>;
  users(): Promise<UserRow[]>;
  chats(): Promise<ChatRow[]>;
}

interface ChatRow {
  type: string;
  title: string | null;
  messages: number;
  members: number;
}

const SEEDED_CHATS: ChatRow[] = [
  { type: 'direct', title: null, messages: 2, members: 2 },
  { type: 'group', title: 'Parley team', messages: 3, members: 5 },
];

const quiet = () => new AppLogger('error', 'json', () => undefined);

/** Boots the app with a logger whose seeding lines the test can read. */
async function start(env: Record<string, string>): Promise<Started> {
  const lines: string[] = [];
  const config = loadConfig({ APP_ENV: 'LOCAL', PORT: '0', ...env });
  const app = await createApp(config, new AppLogger('log', 'json', (line) => lines.push(line)));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    request: httpClient(`http://127.0.0.1:${port}`),
    seedingLogs: lines
      .map((l) => JSON.parse(l) as { context?: string; msg: string })
      .flatMap((l) => (l.context === 'Seeding' ? [l.msg] : [])),
    get logs() {
      return lines.map((l) => JSON.parse(l) as { level: string; context?: string; msg: string });
    },
    // Read while the app is up: the embedded database lives in the app's process.
    users: async () => (await app.get(DataSource).query('SELECT * FROM users ORDER BY email')) as UserRow[],
    chats: async () =>
      (await app.get(DataSource).query(
        `SELECT c.type, c.title, c.last_seq::int AS messages, (SELECT count(*)::int FROM chat_members m WHERE m.chat_id = c.id) AS members
           FROM chats c ORDER BY c.type, c.title`,
      )) as ChatRow[],
  };
}

async function signIn(request: Started['request'], email: string, password: string) {
  return request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
}

describe.each(DATABASE_KINDS)('seeding on a LOCAL start (%s database)', (kind) => {
  let db: TestDatabase;
  let firstRows: UserRow[];

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });

  afterAll(() => db?.dispose());

  it('creates the five seed accounts, confirmed, signing in with "admin", and logs its progress', async () => {
    const started = await start({ ...db.env, MODULES: SEEDING_MODULES });
    try {
      firstRows = await started.users();
      expect(firstRows.map((u) => ({ email: u.email, name: u.name }))).toEqual([...SEEDED].sort((a, b) => a.email.localeCompare(b.email)));
      expect(firstRows.every((u) => u.email_confirmed_at !== null)).toBe(true);
      for (const { email, name } of SEEDED) {
        const result = await signIn(started.request, email, 'admin');
        expect({ status: result.status, user: result.body.user }).toEqual({
          status: 200,
          user: expect.objectContaining({ email, name, emailConfirmed: true }),
        });
      }
      expect(started.seedingLogs).toEqual(
        expect.arrayContaining([`users: created ${SEEDED.map((u) => u.email).join(', ')}`, 'Seeding done']),
      );
      expect(await started.chats()).toEqual(SEEDED_CHATS);
      const admin = await signIn(started.request, 'admin@admin.ru', 'admin');
      const list = await started.request('GET', '/api/v1/chats', { token: admin.body.accessToken });
      expect(list.body.items.map((c: { title: string }) => c.title).sort()).toEqual(['Parley team', 'User One']);
    } finally {
      await started.app.close();
    }
  });

  it('changes nothing on a second start: same rows, same hashes, and no password hashed', async () => {
    const hash = jest.spyOn(PasswordHasher.prototype, 'hash');
    const started = await start({ ...db.env, MODULES: SEEDING_MODULES });
    try {
      expect(hash).not.toHaveBeenCalled();
      expect(await started.users()).toEqual(firstRows);
      expect(await started.chats()).toEqual(SEEDED_CHATS);
      expect(started.seedingLogs).toContain(`users: created nothing; already there: ${SEEDED.map((u) => u.email).join(', ')}`);
    } finally {
      hash.mockRestore();
      await started.app.close();
    }
  });

  it('finds its group again after someone renamed it, rather than making another', async () => {
    const first = await start({ ...db.env, MODULES: SEEDING_MODULES });
    try {
      const admin = await signIn(first.request, 'admin@admin.ru', 'admin');
      const { body: list } = await first.request('GET', '/api/v1/chats', { token: admin.body.accessToken });
      const team = list.items.find((c: { title: string }) => c.title === 'Parley team');
      const renamed = await first.request('PATCH', `/api/v1/chats/${team.id}`, {
        token: admin.body.accessToken,
        body: { title: 'Our team' },
      });
      expect(renamed.status).toBe(200);
    } finally {
      await first.app.close();
    }
    const again = await start({ ...db.env, MODULES: SEEDING_MODULES });
    try {
      const groups = (await again.chats()).filter((c) => c.type === 'group');
      expect(groups.map((c) => c.title)).toEqual(['Our team']);
    } finally {
      await again.app.close();
    }
  });
});

describe('seeding next to existing accounts', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });

  afterAll(() => db?.dispose());

  it('leaves an account that already has a seed email alone and creates the others', async () => {
    const before = await start({ ...db.env, MODULES: 'auth,users' });
    let existing: UserRow | undefined;
    try {
      const up = await before.request('POST', '/api/v1/auth/sign-up', {
        body: { email: 'user1@example.com', password: 'mine-passw0rd', name: 'Real Person' },
      });
      expect(up.status).toBe(201);
      existing = (await before.users())[0];
    } finally {
      await before.app.close();
    }

    const started = await start({ ...db.env, MODULES: SEEDING_MODULES });
    try {
      const rows = await started.users();
      expect(rows).toHaveLength(5);
      expect(rows.find((u) => u.email === 'user1@example.com')).toEqual(existing);
      expect((await signIn(started.request, 'user1@example.com', 'mine-passw0rd')).status).toBe(200);
      expect((await signIn(started.request, 'user1@example.com', 'admin')).status).toBe(401);
      expect((await signIn(started.request, 'user2@example.com', 'admin')).status).toBe(200);
    } finally {
      await started.app.close();
    }
  });
});

describe('seeding under APP_ENV=PRODUCTION', () => {
  it('creates no accounts and says why', async () => {
    const db = await createTestDatabase('postgres');
    try {
      const started = await start({ ...db.env, ...PRODUCTION_SECRETS, APP_ENV: 'PRODUCTION', MODULES: SEEDING_MODULES });
      try {
        expect(await started.users()).toEqual([]);
        expect(started.seedingLogs).toEqual(['Seeding skipped: APP_ENV is PRODUCTION; seed accounts are made only under LOCAL.']);
      } finally {
        await started.app.close();
      }
    } finally {
      await db.dispose();
    }
  });
});

describe('seed accounts a LOCAL start left in a database that goes on under APP_ENV=PRODUCTION', () => {
  it('refuses their public password at sign-in, ends their sessions, signs other accounts in as before, and names them', async () => {
    const db = await createTestDatabase('postgres');
    try {
      // The same secrets in both: tokens from the LOCAL start stay valid unless their sessions end.
      const secrets = {
        JWT_ACCESS_SECRET: PRODUCTION_SECRETS.JWT_ACCESS_SECRET,
        JWT_REFRESH_SECRET: PRODUCTION_SECRETS.JWT_REFRESH_SECRET,
      };
      const local = await start({ ...db.env, ...secrets, MODULES: SEEDING_MODULES });
      let adminRefresh: string;
      try {
        const up = await local.request('POST', '/api/v1/auth/sign-up', {
          body: { email: 'real@example.com', password: 'real-passw0rd', name: 'Real Person' },
        });
        expect(up.status).toBe(201);
        adminRefresh = (await signIn(local.request, 'admin@admin.ru', 'admin')).body.refreshToken;
        // One seed account whose password was changed is no longer open to anyone.
        await local.app
          .get(DataSource)
          .query('UPDATE users SET password_hash = $1 WHERE email = $2', [
            await local.app.get(PasswordHasher).hash('user3-own-passw0rd'),
            'user3@example.com',
          ]);
      } finally {
        await local.app.close();
      }

      const production = await start({ ...db.env, ...PRODUCTION_SECRETS, APP_ENV: 'PRODUCTION', MODULES: SEEDING_MODULES });
      try {
        for (const { email } of SEEDED) {
          const refused = await signIn(production.request, email, 'admin');
          expect({ email, status: refused.status, code: refused.body.code }).toEqual({ email, status: 401, code: 'INVALID_CREDENTIALS' });
        }
        const refreshed = await production.request('POST', '/api/v1/auth/refresh', { body: { refreshToken: adminRefresh } });
        expect({ status: refreshed.status, code: refreshed.body.code }).toEqual({ status: 401, code: 'SESSION_REVOKED' });
        expect((await signIn(production.request, 'real@example.com', 'real-passw0rd')).status).toBe(200);
        expect((await signIn(production.request, 'user3@example.com', 'user3-own-passw0rd')).status).toBe(200);
        const warned = production.logs.filter((l) => l.level === 'warn' && l.context === 'Auth').map((l) => l.msg);
        expect(warned).toEqual(
          ['admin@admin.ru', 'api-test@example.com', 'user1@example.com', 'user2@example.com'].map((email) =>
            expect.stringMatching(new RegExp(`^${email.replace(/\./g, '\\.')} is a seed account from a start under LOCAL`)),
          ),
        );
        expect(warned[0]).toContain('its 1 session(s) were ended');
      } finally {
        await production.app.close();
      }
    } finally {
      await db.dispose();
    }
  });
});

describe('the seed and migration commands', () => {
  let db: TestDatabase;
  const users = async () => {
    const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    try {
      return (await client.query<{ email: string }>('SELECT email FROM users ORDER BY email')).rows.map((r) => r.email);
    } finally {
      await client.end();
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
  });

  afterEach(() => db?.dispose());

  it('migrate applies every migration to a fresh database, then nothing the second time', async () => {
    const env = { ...db.env, APP_ENV: 'LOCAL' };
    expect(await migrate(env, quiet())).toEqual(MIGRATIONS.map((M) => new M().name));
    expect(await migrate(env, quiet())).toEqual([]);
  });

  it('seed creates the seed accounts even when MODULES leaves seeding out, once', async () => {
    const env = { ...db.env, APP_ENV: 'LOCAL', MODULES: 'auth,users,chats,messages' };

    const first = await seed(env, quiet());
    const second = await seed(env, quiet());

    expect(first.users.created).toHaveLength(5);
    expect(second.users).toEqual({ created: [], existing: SEEDED.map((u) => u.email) });
    expect(await users()).toEqual(SEEDED.map((u) => u.email).sort());
  });

  it('seed sends no mail: what another instance queued stays for that instance', async () => {
    const env = { ...db.env, APP_ENV: 'LOCAL' };
    await migrate(env, quiet());
    const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO mail_log (id, template, recipient, recipient_name, sender, subject, text_body, html_body, action_url, status, attempts, next_attempt_at, expires_at)
         VALUES (gen_random_uuid(), 'confirm-email', 'queued@example.com', 'Q', 'P <p@example.com>', 's', 't', 'h', 'u', 'pending', 0, now(), now() + interval '1 day')`,
      );
      await seed(env, quiet());
      const { rows } = await client.query(`SELECT status, attempts FROM mail_log WHERE recipient = 'queued@example.com'`);
      expect(rows).toEqual([{ status: 'pending', attempts: 0 }]);
    } finally {
      await client.end();
    }
  });

  it('seed names what it needs when MODULES leaves out a module seeding needs', async () => {
    const env = { ...db.env, APP_ENV: 'LOCAL', MODULES: 'auth,users,health' };
    await expect(seed(env, quiet())).rejects.toThrow(
      'npm run seed needs auth, users, chats, messages in MODULES, and MODULES="auth,users,health" leaves out chats, messages; unset MODULES or add them.',
    );
  });

  it('seed refuses a MODULES the server refuses', async () => {
    for (const MODULES of ['auth,users,chats,messages,bogus', 'all,health'])
      await expect(seed({ ...db.env, APP_ENV: 'LOCAL', MODULES }, quiet())).rejects.toBeInstanceOf(ConfigError);
    // Refused before anything ran: not even the migrations.
    await expect(users()).rejects.toThrow(/relation "users" does not exist/);
  });

  it('seed refuses to run outside LOCAL, naming APP_ENV, and creates nothing', async () => {
    const env = { ...db.env, ...PRODUCTION_SECRETS, APP_ENV: 'PRODUCTION' };
    await expect(seed(env, quiet())).rejects.toThrow(/only with APP_ENV=LOCAL \(it is PRODUCTION\)/);
    // That first, not the settings PRODUCTION would ask for next (PUBLIC_URL, secrets), which would not make it run.
    await expect(seed({ ...db.env, APP_ENV: 'production' }, quiet())).rejects.toThrow(/only with APP_ENV=LOCAL \(it is PRODUCTION\)/);
    await migrate(env, quiet());
    expect(await users()).toEqual([]);
  });
});
