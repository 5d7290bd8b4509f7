import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import pg from 'pg';

export type DatabaseKind = 'postgres' | 'embedded';
/** Where chats and messages can live: a database above, or `mongo` (users on PostgreSQL, chats and messages on MONGODB_URI). */
export type StoreKind = DatabaseKind | 'mongo';

const listed = process.env.TEST_DATABASES?.split(',')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);
const isDatabaseKind = (s: string): s is DatabaseKind => s === 'postgres' || s === 'embedded';

/**
 * Which databases suites that run "on every database" use; TEST_DATABASES=postgres narrows it.
 * When TEST_DATABASES lists only mongo, these suites still need one: PostgreSQL.
 */
export const DATABASE_KINDS: DatabaseKind[] = listed ? listed.filter(isDatabaseKind) : ['postgres', 'embedded'];
if (DATABASE_KINDS.length === 0) DATABASE_KINDS.push('postgres');

/**
 * Where the suites about chats and messages (the repository contracts, conversations) run: the
 * databases above, plus MongoDB whenever MONGODB_URI is set (no MongoDB server can be installed
 * on the machines this project is built on, so it is opt-in). TEST_DATABASES=mongo (or
 * postgres,mongo, …) picks exactly those.
 */
export const STORE_KINDS: StoreKind[] = listed
  ? listed.filter((s): s is StoreKind => isDatabaseKind(s) || s === 'mongo')
  : [...DATABASE_KINDS, ...(process.env.MONGODB_URI ? (['mongo'] as const) : [])];

/** The server the test run creates its databases on. */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: StoreKind;
  /** Environment that points the app at this database. */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/**
 * A database of its own for one test file: a fresh PostgreSQL database, or a fresh embedded one;
 * for `mongo`, a fresh PostgreSQL database for users and a fresh MongoDB database on the
 * MONGODB_URI deployment for chats and messages.
 */
export async function createTestDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === 'mongo') return createMongoStore();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  if (kind === 'embedded') {
    return { kind, env: { DATA_DIR: dataDir }, dispose: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  // UTF-8 whatever the cluster's default (a cluster made without LANG is SQL_ASCII, where lower()
  // and length() work on bytes), with the collation these tests were written against.
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    dispose: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function createMongoStore(): Promise<TestDatabase> {
  const base = process.env.MONGODB_URI;
  if (!base) {
    throw new Error(
      'TEST_DATABASES lists mongo, which needs MONGODB_URI: point it at a MongoDB replica set (a single node started with --replSet rs0 and rs.initiate() is fine), e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0.',
    );
  }
  const users = await createTestDatabase('postgres');
  const uri = withDatabase(base, `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`);
  return {
    kind: 'mongo',
    env: { ...users.env, MESSAGE_STORE: 'mongo', MONGODB_URI: uri },
    dispose: async () => {
      try {
        const connection = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5000 }).asPromise();
        try {
          await connection.dropDatabase();
        } finally {
          await connection.close();
        }
      } finally {
        await users.dispose();
      }
    },
  };
}

/** The URI with its database path replaced (it may list several hosts, which URL() cannot parse). */
export function withDatabase(uri: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?#]+)(?:\/[^?#]*)?(.*)$/.exec(uri);
  if (!match) throw new Error(`MONGODB_URI is not a mongodb:// URL: ${uri}`);
  return `${match[1]}/${database}${match[2]}`;
}
