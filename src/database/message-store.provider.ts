import type { Abstract, FactoryProvider } from '@nestjs/common';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';

export interface MessageStoreAdapters<T> {
  postgres: (dataSource: DataSource) => T;
  /** May create indexes first: the app serves only once this resolves. */
  mongo: (connection: Connection) => Promise<T>;
}

/**
 * Binds a port of the chats or messages feature to the adapter MESSAGE_STORE names: TypeORM on
 * the PostgreSQL database by default, Mongoose with `mongo`. The Mongo connection exists only in
 * the second case (AppModule registers MongoModule then), hence the optional injection.
 */
export function messageStoreProvider<T>(port: Abstract<T>, adapters: MessageStoreAdapters<T>): FactoryProvider<T | Promise<T>> {
  return {
    provide: port,
    inject: [AppConfig, DataSource, { token: getConnectionToken(), optional: true }],
    useFactory: (config: AppConfig, dataSource: DataSource, connection: Connection | undefined) => {
      if (config.database.messageStore === 'postgres') return adapters.postgres(dataSource);
      if (!connection) {
        throw new Error(
          `MESSAGE_STORE=mongo, but there is no MongoDB connection for ${port.name}: AppModule registers MongoModule when chats or messages are enabled.`,
        );
      }
      return adapters.mongo(connection);
    },
  };
}
