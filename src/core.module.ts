import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from './config/app-config.js';
import { HealthRegistry } from './common/health/health-registry.js';
import { HttpShutdown } from './common/http-shutdown.js';
import { JsonBodyGuard } from './common/http/json-body.guard.js';
import { QueryParamsGuard } from './common/http/query-params.guard.js';
import { UserRateLimiter } from './common/rate-limit/user-rate-limiter.js';

/**
 * Process-wide services every module may inject (the configuration, the health registry, per-user
 * rate limits), a prompt HTTP shutdown, and the request checks (415 for bodies that are not JSON,
 * 400 for a body sent to a route that takes none, or a query parameter a route does not take).
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: AppConfig, useValue: config },
        HealthRegistry,
        HttpShutdown,
        UserRateLimiter,
        { provide: APP_GUARD, useClass: JsonBodyGuard },
        { provide: APP_GUARD, useClass: QueryParamsGuard },
      ],
      exports: [AppConfig, HealthRegistry, UserRateLimiter],
    };
  }
}
