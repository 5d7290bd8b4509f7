import { randomUUID } from 'node:crypto';
import { ChatRepository } from '../src/modules/chats/chat.repository.js';
import {
  chatRepositoryContract,
  type ConversationStores,
  messageRepositoryContract,
} from '../src/modules/chats/chat-repository.contract.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { UserRepository } from '../src/modules/users/user.repository.js';
import { STORE_KINDS, createTestDatabase, type StoreKind, type TestDatabase } from './support/databases.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const ADAPTERS: Record<StoreKind, string> = {
  postgres: 'typeorm on PostgreSQL',
  embedded: 'typeorm on the embedded database',
  mongo: 'mongoose on MongoDB (users on PostgreSQL)',
};

/**
 * Every store adapter runs the same contract: TypeORM on PostgreSQL and on the embedded database
 * always, Mongoose on MongoDB whenever MONGODB_URI names a replica set (see STORE_KINDS).
 */
describe.each(STORE_KINDS.map((kind) => [ADAPTERS[kind], kind] as const))('repository contracts: %s', (_adapter, kind) => {
  let db: TestDatabase;
  let app: TestApp;
  let stores: ConversationStores;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    app = await startTestApp({ ...db.env, MODULES: 'auth,users,chats,messages' });
    const users = app.app.get(UserRepository);
    stores = {
      chats: app.app.get(ChatRepository),
      messages: app.app.get(MessageRepository),
      newUser: async () => {
        const id = randomUUID();
        await users.create({ id, email: `${id}@example.com`, name: `U ${id.slice(0, 4)}`, passwordHash: 'x', emailConfirmedAt: null });
        return id;
      },
    };
  });

  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  chatRepositoryContract(() => stores);
  messageRepositoryContract(() => stores);
});

if (!STORE_KINDS.includes('mongo')) {
  describe('repository contracts: mongoose on MongoDB', () => {
    // No MongoDB server can be installed on the machines this project is built on; say so in the summary.
    it.todo('runs when MONGODB_URI names a MongoDB replica set, e.g. MONGODB_URI=mongodb://127.0.0.1:27017/?replicaSet=rs0');
  });
}
