import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.factory.js';
import { AppLogger } from '../src/common/logging/app-logger.js';
import { loadConfig } from '../src/config/app-config.js';
import { createTestDatabase, STORE_KINDS, type TestDatabase } from './support/databases.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const readiness = async (app: TestApp) =>
  (await (await fetch(`${app.url}/health/ready`)).json()) as { dependencies: Record<string, unknown> };

describe('the message store', () => {
  let db: TestDatabase;
  // A TCP listener standing in for MONGODB_URI: it counts who knocks, so a test can tell that nothing connected.
  let listener: Server;
  let knocks = 0;
  let listeningUri: string;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    listener = createServer((socket) => {
      knocks++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listeningUri = `mongodb://127.0.0.1:${(listener.address() as AddressInfo).port}/parley`;
  });

  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    await db?.dispose();
  });

  it('keeps chats and messages in PostgreSQL by default, with no MongoDB connection at all', async () => {
    // docker compose sets MONGODB_URI for everyone: without MESSAGE_STORE=mongo nothing connects to it.
    const before = knocks;
    const app = await startTestApp({ ...db.env, MONGODB_URI: listeningUri });
    try {
      const { dependencies } = await readiness(app);
      expect(knocks).toBe(before);
      expect(dependencies.database).toMatchObject({ status: 'up', mode: 'postgres' });
      expect(dependencies.messageStore).toMatchObject({ status: 'up', mode: 'postgres' }); // the same database
    } finally {
      await app.close();
    }
  });

  it('stops the start with MESSAGE_STORE=mongo and a MONGODB_URI where no MongoDB answers, naming MONGODB_URI and the fix', async () => {
    const before = knocks;
    const config = loadConfig({
      ...db.env,
      MODULES: 'auth,users,chats,messages',
      MESSAGE_STORE: 'mongo',
      MONGODB_URI: listeningUri.replace('mongodb://', 'mongodb://parley:hunter2@'),
    });
    const lines: string[] = [];
    const start = createApp(config, new AppLogger('error', 'json', (line) => lines.push(line)));
    await expect(start).rejects.toThrow(/^MONGODB_URI is unreachable: .*--replSet rs0.*or unset MESSAGE_STORE/);
    await expect(start).rejects.not.toThrow(/hunter2/);
    // Said once, in those words: not first by @nestjs/mongoose, with the driver's stack.
    expect(lines.filter((line) => line.includes('MongooseModule'))).toEqual([]);
    expect(knocks).toBeGreaterThan(before); // it did try the listener, which hangs up on everyone
  });

  it('connects to MongoDB only when chats or messages run on it', async () => {
    // Users alone never need the message store.
    const before = knocks;
    const app = await startTestApp({ ...db.env, MODULES: 'auth,users,health', MESSAGE_STORE: 'mongo', MONGODB_URI: listeningUri });
    try {
      expect((await readiness(app)).dependencies).not.toHaveProperty('messageStore');
      expect(knocks).toBe(before);
    } finally {
      await app.close();
    }
  });
});

describe('the message store on MongoDB', () => {
  if (!STORE_KINDS.includes('mongo')) {
    it.todo('reports the message store on /health/ready as mongo (runs when MONGODB_URI names a MongoDB replica set)');
    return;
  }
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase('mongo');
    app = await startTestApp(db.env);
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('reports the message store on /health/ready as mongo, beside the PostgreSQL database for users', async () => {
    const { dependencies } = await readiness(app);
    expect(dependencies.messageStore).toMatchObject({ status: 'up', mode: 'mongo' });
    expect(dependencies.database).toMatchObject({ status: 'up', mode: 'postgres' });
  });
});
