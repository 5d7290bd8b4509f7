import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { InjectConnection, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { AppConfig } from '../../config/app-config.js';
import { HealthRegistry } from '../../common/health/health-registry.js';
import { mongooseOptions } from './mongo-connection.js';

/**
 * The MongoDB connection, for chats and messages when MESSAGE_STORE=mongo. AppModule registers it
 * only then; the feature modules pick their Mongo adapters through messageStoreProvider, and those
 * create their collections' indexes. Users and sessions stay in PostgreSQL.
 */
@Module({})
export class MongoModule {
  private readonly logger = new Logger('MessageStore');

  static forRoot(): DynamicModule {
    return {
      module: MongoModule,
      imports: [
        MongooseModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => {
            // loadConfig refuses MESSAGE_STORE=mongo without MONGODB_URI; this only satisfies the type.
            if (!config.database.mongodbUri) throw new Error('MESSAGE_STORE=mongo needs MONGODB_URI.');
            return mongooseOptions(config.database.mongodbUri);
          },
        }),
      ],
    };
  }

  constructor(registry: HealthRegistry, @InjectConnection() connection: Connection) {
    registry.register('messageStore', 'mongo', async () => {
      if (!connection.db) throw new Error('the MongoDB connection is closed');
      await connection.db.admin().ping();
    });
    this.logger.debug('Message store health check registered');
  }
}
