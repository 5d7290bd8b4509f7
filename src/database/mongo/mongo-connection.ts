import type { MongooseModuleFactoryOptions } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { opening } from '../../common/startup-scope.js';
import { redact } from '../../config/env-reader.js';
import { SetupError } from '../../common/errors/setup-error.js';
import { errorMessage } from '../../common/errors/error-message.js';

/** The database used when MONGODB_URI names none in its path. */
export const DEFAULT_MONGO_DATABASE = 'parley';

/** How long a start (or a query) waits for a reachable member before it gives up. */
const SERVER_SELECTION_TIMEOUT_MS = 5000;

/** A start-up problem already put in words that name the fix; passed on unchanged. */
export class MongoSetupError extends SetupError {
  override name = 'MongoSetupError';
}

/** The database a MONGODB_URI names in its path (`…/parley?replicaSet=rs0`), or `parley`. */
export function mongoDatabaseName(uri: string): string {
  const path = /^mongodb(?:\+srv)?:\/\/[^/?#]+\/([^?#]*)/.exec(uri)?.[1];
  return path ? decodeURIComponent(path) : DEFAULT_MONGO_DATABASE;
}

/** The part of MongoDB's `hello` reply that tells a replica set or a sharded cluster from a standalone server. */
export interface HelloReply {
  setName?: string;
  msg?: string;
}

/** Why this deployment cannot run the store's transactions, or undefined when it can. */
export function transactionSupportProblem(hello: HelloReply, uri: string): string | undefined {
  if (hello.setName || hello.msg === 'isdbgrid') return undefined;
  return (
    `MONGODB_URI points at a standalone MongoDB server (${redact(uri)}), but the Mongo store needs transactions, ` +
    'which MongoDB runs only on a replica set or a sharded cluster: start mongod with --replSet rs0, run rs.initiate() once ' +
    '(a single-node replica set is fine) and add ?replicaSet=rs0 to MONGODB_URI, or unset MESSAGE_STORE to keep chats and messages in PostgreSQL.'
  );
}

/** Turns a driver error at start into a sentence that names MONGODB_URI and what to do. */
export function explainMongoConnectionError(error: unknown, uri: string): Error {
  if (error instanceof MongoSetupError) return error;
  const { name, code } = error as { name?: string; code?: unknown };
  const detail = errorMessage(error);
  const where = redact(uri);
  if (code === 18 || /authentication failed|auth failed/i.test(detail)) {
    return new MongoSetupError(
      `MONGODB_URI was refused by the server: ${detail} (${where}). Check the user name, the password and authSource in MONGODB_URI.`,
    );
  }
  if (/ServerSelection/.test(name ?? '') || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|timed out/i.test(detail)) {
    return new MongoSetupError(
      `MONGODB_URI is unreachable: ${detail} (${where}). Start MongoDB there as a replica set (mongod --replSet rs0, then rs.initiate() once), ` +
        'make sure the member host names the set reports resolve from here (or add directConnection=true for a single node), ' +
        'fix MONGODB_URI, or unset MESSAGE_STORE to keep chats and messages in PostgreSQL.',
    );
  }
  if (name === 'MongoParseError' || name === 'MongoAPIError') {
    return new MongoSetupError(`MONGODB_URI is not a connection string the MongoDB driver accepts: ${detail} (${where}). Fix MONGODB_URI.`);
  }
  return new Error(`Could not connect to MongoDB at ${where} (MONGODB_URI): ${detail}`, { cause: error });
}

/**
 * The options of the store's one Mongoose connection. Indexes are not left to Mongoose's
 * background autoIndex: each adapter creates its own, awaited, before the app serves (so the
 * unique keys exist before the first write). Commands fail instead of queueing while disconnected.
 */
export function mongooseOptions(uri: string): MongooseModuleFactoryOptions {
  return {
    uri,
    dbName: mongoDatabaseName(uri),
    appName: 'parley',
    autoIndex: false,
    autoCreate: false,
    bufferCommands: false,
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    // One try: a wrong URI should stop the start with its explanation, not retry for half a minute.
    retryAttempts: 0,
    connectionFactory: async (connection: Connection) => {
      try {
        await requireTransactions(connection, uri);
      } catch (error) {
        // A start that fails must not leave a client monitoring MONGODB_URI behind.
        await connection.close().catch(() => undefined);
        throw error;
      }
      // Closed again should another part of the start fail.
      return opening(Promise.resolve(connection), (opened) => opened.close());
    },
    connectionErrorFactory: (error) => explainMongoConnectionError(error, uri) as typeof error,
  };
}

async function requireTransactions(connection: Connection, uri: string): Promise<void> {
  const db = connection.db;
  if (!db) throw new MongoSetupError(`MongoDB at ${redact(uri)} (MONGODB_URI) connected without a database handle.`);
  const problem = transactionSupportProblem((await db.admin().command({ hello: 1 })) as HelloReply, uri);
  if (problem) throw new MongoSetupError(problem);
}
