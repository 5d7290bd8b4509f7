import { type DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './config/app-config.js';
import { HttpShutdown } from './common/http-shutdown.js';
import { HealthRegistry } from './modules/health/health-registry.js';
import { UserRateLimiter } from './common/rate-limit/user-rate-limiter.js';

/** Process-wide services every module may inject (the configuration, the health registry, per-user rate limits), and a prompt HTTP shutdown. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CoreModule,
      providers: [{ provide: AppConfig, useValue: config }, HealthRegistry, HttpShutdown, UserRateLimiter],
      exports: [AppConfig, HealthRegistry, UserRateLimiter],
    };
  }
}
