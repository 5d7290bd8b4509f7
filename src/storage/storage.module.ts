import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { HealthRegistry } from '../common/health/health-registry.js';
import { LocalFileStorage } from './local-file.storage.js';
import { ObjectStorage } from './object-storage.js';
import { S3ObjectStorage } from './s3-object.storage.js';

/** The adapter the configuration asks for, ready to use: S3 when all S3_* are set, files under DATA_DIR otherwise. */
export async function createObjectStorage(config: AppConfig): Promise<ObjectStorage> {
  if (config.storage.s3) {
    const storage = new S3ObjectStorage(config.storage.s3);
    await storage.init();
    return storage;
  }
  const storage = new LocalFileStorage(config.storage.localDir);
  await storage.init();
  return storage;
}

/** Object storage (avatars) for every module; global because it is infrastructure, like the database. */
@Global()
@Module({
  providers: [{ provide: ObjectStorage, inject: [AppConfig], useFactory: createObjectStorage }],
  exports: [ObjectStorage],
})
export class StorageModule {
  private readonly logger = new Logger('ObjectStorage');

  constructor(registry: HealthRegistry, storage: ObjectStorage) {
    registry.register('objectStorage', storage.mode, () => storage.check());
    this.logger.debug(`Object storage ready (${storage.mode})`);
  }
}
