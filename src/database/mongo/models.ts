import type { Connection, Model, Schema } from 'mongoose';
import { SetupError } from '../../common/errors/setup-error.js';
import { errorMessage } from '../../common/errors/error-message.js';

/** The connection's model of that name, registered on first use: two adapters may share a collection. */
export function modelOn<T>(connection: Connection, name: string, schema: Schema<T>): Model<T> {
  return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
}

/**
 * Creates the indexes the models' schemas declare (existing ones are left alone), so an adapter
 * serves only once its unique keys exist. Fails the start with a sentence when one cannot be made.
 */
export async function createIndexes(...models: Array<Pick<Model<unknown>, 'createIndexes' | 'collection'>>): Promise<void> {
  try {
    await Promise.all(models.map((model) => model.createIndexes()));
  } catch (error) {
    const detail = errorMessage(error);
    const collections = models.map((m) => m.collection.collectionName).join(', ');
    throw new SetupError(
      `Could not create the indexes of the MongoDB collections ${collections} (MONGODB_URI): ${detail}. ` +
        'An index of the same name with other options, or records that break a unique key, blocks this: drop that index or fix the records, then start again.',
    );
  }
}
