import { mongo } from 'mongoose';
import { explainMongoConnectionError, mongoDatabaseName, MongoSetupError, transactionSupportProblem } from './mongo-connection.js';
import { isDuplicateKey } from './mongo-errors.js';

describe('mongoDatabaseName', () => {
  it('reads the database from the path of one host, several hosts or an SRV name, and falls back to parley', () => {
    expect(mongoDatabaseName('mongodb://127.0.0.1:27017/chat?replicaSet=rs0')).toBe('chat');
    expect(mongoDatabaseName('mongodb://u:p@db1:27017,db2:27017/parley_prod?replicaSet=rs0')).toBe('parley_prod');
    expect(mongoDatabaseName('mongodb+srv://cluster0.example.net/app')).toBe('app');
    expect(mongoDatabaseName('mongodb://127.0.0.1:27017/?replicaSet=rs0')).toBe('parley');
    expect(mongoDatabaseName('mongodb://127.0.0.1:27017')).toBe('parley');
  });
});

describe('transactionSupportProblem', () => {
  const uri = 'mongodb://parley:hunter2@127.0.0.1:27017/parley';

  it('accepts a replica set member and a mongos router', () => {
    expect(transactionSupportProblem({ setName: 'rs0' }, uri)).toBeUndefined();
    expect(transactionSupportProblem({ msg: 'isdbgrid' }, uri)).toBeUndefined();
  });

  it('refuses a standalone server, saying how to make it a replica set, without the password', () => {
    const problem = transactionSupportProblem({}, uri);
    expect(problem).toMatch(
      /^MONGODB_URI points at a standalone MongoDB server .*--replSet rs0, run rs.initiate\(\) once .*\?replicaSet=rs0/,
    );
    expect(problem).not.toContain('hunter2');
  });
});

describe('explainMongoConnectionError', () => {
  const uri = 'mongodb://parley:hunter2@db:27017/parley?replicaSet=rs0';

  it('names MONGODB_URI and the fix when no server answers', () => {
    const error = explainMongoConnectionError(new mongo.MongoServerSelectionError('connect ECONNREFUSED 10.0.0.9:27017', {} as never), uri);
    expect(error).toBeInstanceOf(MongoSetupError);
    expect(error.message).toMatch(/^MONGODB_URI is unreachable: connect ECONNREFUSED .*rs.initiate\(\).*or unset MESSAGE_STORE/);
    expect(error.message).not.toContain('hunter2');
  });

  it('tells a refused login and a malformed URI apart from an unreachable server', () => {
    const login = new mongo.MongoServerError({ ok: 0, code: 18, errmsg: 'Authentication failed.' });
    expect(explainMongoConnectionError(login, uri).message).toMatch(/^MONGODB_URI was refused by the server: .*authSource/);
    expect(explainMongoConnectionError(new mongo.MongoParseError('Invalid scheme'), uri).message).toMatch(
      /^MONGODB_URI is not a connection string the MongoDB driver accepts: Invalid scheme/,
    );
  });

  it('passes an already explained problem on unchanged', () => {
    const setup = new MongoSetupError('MONGODB_URI points at a standalone MongoDB server …');
    expect(explainMongoConnectionError(setup, uri)).toBe(setup);
  });
});

describe('isDuplicateKey', () => {
  const dup = (index: string) =>
    `E11000 duplicate key error collection: parley.x index: ${index} dup key: { senderId: "a", clientId: "b" }`;

  it('recognises E11000 on the named index, from a single write or from insertMany', () => {
    const single = new mongo.MongoServerError({ ok: 0, code: 11000, errmsg: dup('messages_sender_client') });
    expect(isDuplicateKey(single, 'messages_sender_client')).toBe(true);
    expect(isDuplicateKey(single)).toBe(true);
    const bulk = new mongo.MongoBulkWriteError(
      {
        message: dup('chats_owner_title'),
        code: 11000,
        writeErrors: [{ index: 0, code: 11000, errmsg: dup('chats_owner_title') }],
      } as never,
      {} as never,
    );
    expect(isDuplicateKey(bulk, 'chats_owner_title')).toBe(true);
  });

  it('does not mistake another index, a prefix of its name, or another error for it', () => {
    const other = new mongo.MongoServerError({ ok: 0, code: 11000, errmsg: dup('messages_chat_seq') });
    expect(isDuplicateKey(other, 'messages_sender_client')).toBe(false);
    const longer = new mongo.MongoServerError({ ok: 0, code: 11000, errmsg: dup('chats_owner_title_v2') });
    expect(isDuplicateKey(longer, 'chats_owner_title')).toBe(false);
    const conflict = new mongo.MongoServerError({
      ok: 0,
      code: 112,
      errmsg: 'WriteConflict error: this operation conflicted with another operation.',
    });
    expect(isDuplicateKey(conflict)).toBe(false);
    expect(isDuplicateKey(new Error('E11000 in a message only'))).toBe(false);
    expect(isDuplicateKey(undefined)).toBe(false);
  });
});
