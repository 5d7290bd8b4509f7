import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../modules/auth/auth.module.js';
import { UsersModule } from '../modules/users/users.module.js';
import { RedisConnection } from '../redis/redis.module.js';
import { ConnectionManager } from './connection-manager.js';
import { DirectHandlers } from './direct-handlers.js';
import { FanOut } from './fan-out.js';
import { CloseRevokedSocketsHandler } from './handlers/close-revoked-sockets.handler.js';
import { InProcessFanOut } from './infrastructure/in-process-fan-out.js';
import { InProcessPresenceStore } from './infrastructure/in-process-presence.store.js';
import { FAN_OUT_CHANNEL, RedisFanOut } from './infrastructure/redis-fan-out.js';
import { RedisPresenceStore } from './infrastructure/redis-presence.store.js';
import { PresenceLookup } from './presence-lookup.js';
import { PresenceQuery } from './presence-query.js';
import { PresenceStore } from './presence-store.js';
import { PresenceService } from './presence.service.js';
import { RealtimeCoreGateway } from './realtime-core.gateway.js';
import { RealtimeSettings } from './realtime-settings.js';
import { RealtimeService } from './realtime.service.js';
import { SocketAuthenticator } from './socket-authenticator.js';
import { SocketRegistry } from './socket-registry.js';

/**
 * The WebSocket endpoint `/ws` and everything under the features: socket authentication, the
 * registry of this instance's sockets, fan-out to every instance (in-process, or Redis pub/sub
 * when REDIS_URL is set), presence, and closing revoked sessions' sockets. Global: features
 * inject RealtimeService and PresenceQuery and add gateways with @RealtimeGateway().
 * createApp installs RealtimeWsAdapter alongside.
 */
@Global()
@Module({
  imports: [AuthModule, UsersModule, DiscoveryModule],
  providers: [
    { provide: RealtimeSettings, useValue: new RealtimeSettings() },
    SocketRegistry,
    {
      provide: FanOut,
      inject: [RedisConnection],
      useFactory: async (redis: RedisConnection): Promise<FanOut> => {
        if (!redis.client) return new InProcessFanOut();
        const fanOut = new RedisFanOut(redis.client, await redis.connectAnother('realtime-subscriber'), redis.key(FAN_OUT_CHANNEL));
        await fanOut.start();
        return fanOut;
      },
    },
    {
      provide: PresenceStore,
      inject: [RedisConnection, RealtimeSettings],
      useFactory: (redis: RedisConnection, settings: RealtimeSettings): PresenceStore =>
        redis.client ? new RedisPresenceStore(redis.client, settings.presenceTtlMs, redis.key('presence:')) : new InProcessPresenceStore(),
    },
    { provide: PresenceQuery, useClass: PresenceLookup },
    RealtimeService,
    PresenceService,
    SocketAuthenticator,
    DirectHandlers,
    ConnectionManager,
    CloseRevokedSocketsHandler,
    RealtimeCoreGateway,
  ],
  exports: [RealtimeService, PresenceQuery],
})
export class RealtimeModule {}
