import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module.js';
import { AccessTokenVerifier } from './access-token.verifier.js';
import { AuthRateLimiter } from './auth-rate-limiter.js';
import { AuthTokenRepository } from './auth-token.repository.js';
import { AuthController } from './auth.controller.js';
import { AuthHousekeeping } from './auth-housekeeping.js';
import { AuthService } from './auth.service.js';
import { EmailLinksService } from './email-links.service.js';
import { AuthTokenEntity } from './infrastructure/persistence/typeorm/auth-token.entity.js';
import { SessionEntity } from './infrastructure/persistence/typeorm/session.entity.js';
import { IpRateLimitGuard } from './ip-rate-limit.guard.js';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import { JwtStrategy } from './jwt.strategy.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionRepository } from './session.repository.js';
import { TokenService } from './token.service.js';

/**
 * Accounts, sessions and tokens. Registers the global guard: every HTTP route needs a valid
 * access token of a live session unless marked @Public().
 */
@Module({
  imports: [UsersModule, PassportModule, JwtModule.register({}), TypeOrmModule.forFeature([SessionEntity, AuthTokenEntity])],
  controllers: [AuthController],
  providers: [
    AuthService,
    AuthHousekeeping,
    EmailLinksService,
    TokenService,
    PasswordHasher,
    SessionRepository,
    AuthTokenRepository,
    AuthRateLimiter,
    IpRateLimitGuard,
    AccessTokenVerifier,
    JwtStrategy,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [AccessTokenVerifier, PasswordHasher],
})
export class AuthModule {}
