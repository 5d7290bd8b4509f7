import { Global, Inject, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { HealthRegistry } from '../common/health/health-registry.js';
import { EMBEDDED_APPLICATION_NAME, dataSourceOptions } from './data-source-options.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { runMigrations } from './run-migrations.js';
import { explainConnectionError } from './connection-errors.js';
import { ServerPresence } from './server-presence.js';
import { opening } from '../common/startup-scope.js';

/** Connects with `options`, or says why it cannot. */
async function connect(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource(options);
  try {
    await dataSource.initialize();
  } catch (error) {
    throw explainConnectionError(error, (options as { url: string }).url);
  }
  return dataSource;
}

/**
 * Migrates on a connection of its own, without the app's statement deadline (a migration may
 * rightly take long on a big table), then opens the app's connections.
 */
async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const { url, applicationName } = options as { url: string; applicationName?: string };
  const migrating = await connect(dataSourceOptions(url, applicationName === EMBEDDED_APPLICATION_NAME, 1));
  try {
    await runMigrations(migrating, url);
  } finally {
    await migrating.destroy().catch(() => undefined);
  }
  return connect(options);
}

/** Where the database lives: a real server, or the embedded one this process started. */
export class DatabaseEndpoint {
  constructor(
    readonly url: string,
    readonly embedded: EmbeddedPostgres | undefined,
  ) {}
}

@Global()
@Module({
  providers: [
    {
      provide: DatabaseEndpoint,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        if (config.database.url) return new DatabaseEndpoint(config.database.url, undefined);
        const embedded = await opening(EmbeddedPostgres.start(config.database.embeddedDir), (e) => e.stop());
        return new DatabaseEndpoint(embedded.url, embedded);
      },
    },
  ],
  exports: [DatabaseEndpoint],
})
class DatabaseEndpointModule implements OnApplicationShutdown {
  constructor(@Inject(DatabaseEndpoint) private readonly endpoint: DatabaseEndpoint) {}

  async onApplicationShutdown(): Promise<void> {
    await this.endpoint.embedded?.stop();
  }
}

@Global()
@Module({
  imports: [
    DatabaseEndpointModule,
    TypeOrmModule.forRootAsync({
      inject: [AppConfig, DatabaseEndpoint],
      useFactory: (config: AppConfig, endpoint: DatabaseEndpoint) =>
        Object.assign(
          dataSourceOptions(endpoint.url, !!endpoint.embedded, config.database.poolSize, { seconds: config.database.queryTimeoutSeconds }),
          {
            autoLoadEntities: true,
            retryAttempts: 0,
            // No retry, and no "Retrying (1)..." line before the start fails with the explained error.
            toRetry: () => false,
          },
        ),
      dataSourceFactory: (options) => opening(openDataSource(options!), (dataSource) => dataSource.destroy()),
    }),
  ],
})
export class DatabaseModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private readonly presence: ServerPresence | undefined;

  constructor(registry: HealthRegistry, dataSource: DataSource, endpoint: DatabaseEndpoint, config: AppConfig) {
    // On PostgreSQL only: the embedded database is this process's alone (its directory is locked).
    this.presence = endpoint.embedded ? undefined : new ServerPresence(endpoint.url);
    const mode = endpoint.embedded ? 'embedded' : 'postgres';
    const check = async () => {
      await dataSource.query('SELECT 1');
    };
    registry.register('database', mode, check);
    // Chats and messages in this same database: listed too, so /health/ready names the store
    // whichever it is (MongoModule registers its own).
    const messageStoreHere = config.database.messageStore === 'postgres' && config.usesMessageStore;
    if (messageStoreHere) registry.register('messageStore', mode, check);
    this.logger.debug('Database health check registered');
  }

  /**
   * Once the whole app is up, not while its modules are made: a start that fails part-way closes
   * what it opened, and a hold taken by then would be left behind, retrying for ever.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.presence?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.presence?.stop();
  }
}
