import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { EventBusLifetime } from './common/cqrs/event-bus-lifetime.js';
import { AppConfig } from './config/app-config.js';
import type { FeatureModuleName } from './config/modules.config.js';
import { CoreModule } from './core.module.js';
import { DatabaseModule } from './database/database.module.js';
import { MongoModule } from './database/mongo/mongo.module.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { ChatsModule } from './modules/chats/chats.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { MessagesModule } from './modules/messages/messages.module.js';
import { UsersModule } from './modules/users/users.module.js';
import { RedisModule } from './redis/redis.module.js';
import { StorageModule } from './storage/storage.module.js';
import { NotifyModule } from './modules/notify/notify.module.js';
import { SeedingModule } from './modules/seeding/seeding.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';

/** The feature modules MODULES can switch; loadConfig has already refused combinations where one needs another. */
const FEATURES: Readonly<Record<FeatureModuleName, Type>> = {
  auth: AuthModule,
  users: UsersModule,
  chats: ChatsModule,
  messages: MessagesModule,
  notify: NotifyModule,
  health: HealthModule,
  seeding: SeedingModule,
};

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const features = Object.entries(FEATURES)
      .filter(([name]) => config.isEnabled(name as FeatureModuleName))
      .map(([, module]) => module);
    // The WebSocket endpoint authenticates every socket, so it exists exactly when auth does.
    const realtime = config.isEnabled('auth') ? [RealtimeModule] : [];
    // The MongoDB connection exists only when chats and messages run on it; users stay in PostgreSQL.
    const onMongo = config.database.messageStore === 'mongo' && config.usesMessageStore;
    const messageStore = onMongo ? [MongoModule.forRoot()] : [];
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        CqrsModule.forRoot(),
        DatabaseModule,
        ...messageStore,
        RedisModule,
        StorageModule,
        ...realtime,
        ...features,
      ],
      providers: [EventBusLifetime],
    };
  }
}
