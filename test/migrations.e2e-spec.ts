import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { migrate, revert, revertCount } from '../src/cli/migrate.js';
import { CliError } from '../src/cli/cli-support.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { MIGRATIONS } from '../migrations/index.js';
import { signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { startTestApp } from './support/test-app.js';
import { eventually, pause } from './support/ws.js';
import { closedPort } from './support/net.js';

const quiet = () => new AppLogger('error', 'json', () => undefined);
const NAMES = MIGRATIONS.map((M) => new M().name!);

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Everything the migrations define in the public schema (TypeORM's own table left out), as sorted lines: columns, indexes, constraints, functions. */
async function schemaOf(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ line: string }>(`
      SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'migrations'
      UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations'
      UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 'migrations'::regclass
      UNION ALL SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc) || ' ' || coalesce(array_to_string(p.proconfig, ','), '')
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
      ORDER BY 1`);
    return rows.map((row) => row.line);
  });
}

async function tablesOf(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    return rows.map((row) => row.name);
  });
}

/** The schema after each migration, applied one by one to a fresh database: [none, after the first, …, after all]. */
async function schemasStepByStep(): Promise<string[][]> {
  const fresh = await createTestDatabase('postgres');
  const dataSource = new DataSource(dataSourceOptions(fresh.env.DATABASE_URL, false, 1));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('CREATE TABLE migrations (id serial PRIMARY KEY)'); // so that ::regclass resolves, as in the database under test
    const steps = [await schemaOf(fresh.env.DATABASE_URL)];
    for (const Migration of MIGRATIONS) {
      await new Migration().up(runner);
      steps.push(await schemaOf(fresh.env.DATABASE_URL));
    }
    return steps;
  } finally {
    await runner.release();
    await dataSource.destroy();
    await fresh.dispose();
  }
}

/** Users, sessions, mail, a group with messages (one edited, one deleted) and a deleted chat: something in every table a start fills. */
async function populate(db: TestDatabase): Promise<{ chatId: string; history: unknown; ann: { email: string; password: string } }> {
  const app = await startTestApp(db.env);
  try {
    const request = httpClient(app.url);
    const [ann, bob] = [await signUpAndIn(request, 'Ann'), await signUpAndIn(request, 'Bob')];
    const chat = await request('POST', '/api/v1/chats', {
      token: ann.accessToken,
      body: { type: 'group', title: 'Kept across a revert', memberIds: [bob.user.id] },
    });
    const sent = [];
    for (const text of ['one', 'two', 'three'])
      sent.push(await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { token: ann.accessToken, body: { text } }));
    await request('PATCH', `/api/v1/chats/${chat.body.id}/messages/${sent[1].body.id}`, {
      token: ann.accessToken,
      body: { text: 'two, edited' },
    });
    await request('DELETE', `/api/v1/chats/${chat.body.id}/messages/${sent[2].body.id}`, { token: ann.accessToken });
    const gone = await request('POST', '/api/v1/chats', {
      token: bob.accessToken,
      body: { type: 'group', title: 'Deleted', memberIds: [] },
    });
    await request('POST', `/api/v1/chats/${gone.body.id}/messages`, { token: bob.accessToken, body: { text: 'gone' } });
    await request('DELETE', `/api/v1/chats/${gone.body.id}`, { token: bob.accessToken });
    const history = await request('GET', `/api/v1/chats/${chat.body.id}/messages`, { token: bob.accessToken });
    expect(history.status).toBe(200);
    return { chatId: chat.body.id as string, history: history.body, ann: { email: ann.user.email, password: ann.password } };
  } finally {
    await app.close();
  }
}

describe('reverting migrations (npm run migration:revert, on PostgreSQL)', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
  });

  afterEach(() => db?.dispose());

  it('undoes every migration of a database in use, newest first, each leaving the schema the migrations before it make', async () => {
    const steps = await schemasStepByStep();
    await populate(db);
    expect(await schemaOf(db.env.DATABASE_URL)).toEqual(steps[NAMES.length]);

    for (let k = NAMES.length; k > 0; k--) {
      expect(await revert(1, db.env, quiet())).toEqual([NAMES[k - 1]]);
      expect({ reverted: NAMES[k - 1], schema: await schemaOf(db.env.DATABASE_URL) }).toEqual({
        reverted: NAMES[k - 1],
        schema: steps[k - 1],
      });
    }
    expect(await tablesOf(db.env.DATABASE_URL)).toEqual(['migrations']);
    expect(await revert(1, db.env, quiet())).toEqual([]);

    expect(await migrate(db.env, quiet())).toEqual(NAMES);
    expect(await schemaOf(db.env.DATABASE_URL)).toEqual(steps[NAMES.length]);
  });

  it('keeps the data through the later migrations undone and done again: accounts, the same history, and sends go on from it', async () => {
    const { chatId, history, ann } = await populate(db);
    const undone = Math.min(6, NAMES.length);

    expect(await revert(undone, db.env, quiet())).toEqual(NAMES.slice(-undone).reverse());

    const app = await startTestApp(db.env); // applies them again
    try {
      const request = httpClient(app.url);
      const signIn = await request('POST', '/api/v1/auth/sign-in', { body: ann });
      expect(signIn.status).toBe(200);
      const token = signIn.body.accessToken as string;
      expect((await request('GET', `/api/v1/chats/${chatId}/messages`, { token })).body).toEqual(history);
      const next = await request('POST', `/api/v1/chats/${chatId}/messages`, { token, body: { text: 'four' } });
      expect(next.status).toBe(201);
      expect(next.body.seq).toBe(4);
    } finally {
      await app.close();
    }
  });

  it('refuses while a server runs on the database, idle or not, and after a lost connection of its own, undoing nothing', async () => {
    const REFUSED = /^A Parley server is running on this database \(each holds a lock on it while it runs\): stop every server first/;
    const applied = () =>
      withClient(db.env.DATABASE_URL, async (c) => (await c.query('SELECT count(*)::int AS n FROM migrations')).rows[0].n as number);
    const terminate = (name: string) =>
      withClient(db.env.DATABASE_URL, (c) =>
        c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [
          name,
        ]),
      );
    const app = await startTestApp(db.env);
    try {
      await expect(revert(1, db.env, quiet())).rejects.toThrow(REFUSED);
      // Idle: the pool has let its connections go (here: ended under it), and the server still runs.
      await terminate('parley');
      await expect(revert(1, db.env, quiet())).rejects.toThrow(REFUSED);
      // Its own hold lost (a database restart, say): taken again within seconds.
      await terminate('parley-presence');
      await eventually(async () => {
        const held = await withClient(
          db.env.DATABASE_URL,
          async (c) =>
            (
              await c.query(
                `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
              )
            ).rows[0].n as number,
        );
        return held === 1;
      }, 15_000);
      await expect(revert(1, db.env, quiet())).rejects.toThrow(REFUSED);
      expect(await applied()).toBe(NAMES.length);
    } finally {
      await app.close();
    }
    expect(await revert(1, db.env, quiet())).toEqual([NAMES.at(-1)]);
  });

  it('is not held back by a start that failed part-way: a failed start leaves no lock behind', async () => {
    const closed = await closedPort(); // nothing listens there: the start fails at Redis
    await expect(startTestApp(Object.assign({}, db.env, { REDIS_URL: `redis://127.0.0.1:${closed}` }))).rejects.toThrow(
      /^REDIS_URL is unreachable/,
    );
    await pause(1000); // what the failed start was still opening has settled

    expect(await revert(1, db.env, quiet())).toEqual([NAMES.at(-1)]);
  });

  it('refuses to undo a migration this release does not have, naming it, and undoes nothing', async () => {
    await migrate(db.env, quiet());
    const before = await schemaOf(db.env.DATABASE_URL);
    await withClient(db.env.DATABASE_URL, (c) =>
      c.query(`INSERT INTO migrations (timestamp, name) VALUES (4102444800000, 'FromANewerRelease4102444800000')`),
    );

    await expect(revert(2, db.env, quiet())).rejects.toThrow(
      "The database's last migration, FromANewerRelease4102444800000, is not in this release: a newer Parley applied it. Revert it with that release",
    );
    expect(await withClient(db.env.DATABASE_URL, async (c) => (await c.query('SELECT count(*)::int AS n FROM migrations')).rows[0].n)).toBe(
      NAMES.length + 1,
    );
    expect(await schemaOf(db.env.DATABASE_URL)).toEqual(before);
  });
});

describe('npm run migration:revert -- N', () => {
  it('takes a whole number from 1, and 1 when left out', () => {
    expect(revertCount(undefined)).toBe(1);
    expect(revertCount('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'all', '', '07', '10000'])
      expect(() => revertCount(bad)).toThrow(
        new CliError(
          `npm run migration:revert -- N takes how many migrations to revert, a whole number from 1 (1 when left out); "${bad}" is not one.`,
        ),
      );
  });
});
