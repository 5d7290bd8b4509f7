import { randomUUID } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { ChatRepository } from '../src/modules/chats/chat.repository.js';
import { chatRepositoryContract } from './contracts/chat-repository.contract.js';
import type { ConversationStores } from './contracts/conversation-stores.js';
import { messageRepositoryContract } from './contracts/message-repository.contract.js';
import { MessageRepository } from '../src/modules/messages/message.repository.js';
import { MongoChatRepository } from '../src/modules/chats/infrastructure/persistence/mongo/mongo-chat.repository.js';
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

if (STORE_KINDS.includes('mongo')) {
  describe('the MongoDB store opening records of an earlier release', () => {
    let db: TestDatabase;
    let app: TestApp;

    beforeAll(async () => {
      db = await createTestDatabase('mongo');
      app = await startTestApp({ ...db.env, MODULES: 'auth,users,chats,messages' });
    });

    afterAll(async () => {
      await app?.close();
      await db?.dispose();
    });

    it('carries a chat record’s membersVersion on as its version, never lowering a version counted since', async () => {
      const connection = app.app.get<Connection>(getConnectionToken());
      const chats = app.app.get(ChatRepository);
      const ownerId = randomUUID();
      await app.app
        .get(UserRepository)
        .create({ id: ownerId, email: `${ownerId}@example.com`, name: 'Owner', passwordHash: 'x', emailConfirmedAt: null });
      const [old, both] = await Promise.all(
        ['Old', 'Both'].map((title) => chats.createGroup({ id: randomUUID(), title: `${title} ${randomUUID()}`, ownerId }, [])),
      );
      const records = connection.collection('chats');
      await records.updateOne({ _id: old.id as never }, { $set: { membersVersion: 7 }, $unset: { version: '' } });
      await records.updateOne({ _id: both.id as never }, { $set: { membersVersion: 2, version: 5 } });

      // As an earlier release left it: the step not yet noted as done.
      await connection.collection('parley_upgrades').deleteOne({ _id: 'chats.version' as never });
      await (await MongoChatRepository.open(connection)).onModuleDestroy();

      expect(await chats.findById(old.id)).toMatchObject({ version: 7 });
      expect(await chats.findById(both.id)).toMatchObject({ version: 5 });
      expect(await records.countDocuments({ membersVersion: { $exists: true } })).toBe(0);
      // Noted as done: the next start leaves the chats alone.
      await records.updateOne({ _id: old.id as never }, { $set: { membersVersion: 99 } });
      await (await MongoChatRepository.open(connection)).onModuleDestroy();
      expect(await chats.findById(old.id)).toMatchObject({ version: 7 });
    });
  });
}

if (!STORE_KINDS.includes('mongo')) {
  describe('repository contracts: mongoose on MongoDB', () => {
    // No MongoDB server can be installed on the machines this project is built on; say so in the summary.
    it.todo('runs when MONGODB_URI names a MongoDB replica set, e.g. MONGODB_URI=mongodb://127.0.0.1:27017/?replicaSet=rs0');
  });
}
