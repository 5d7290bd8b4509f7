import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AvatarDiscards } from './avatar-discards.js';
import { AvatarsService } from './avatars.service.js';
import { UserEntity } from './infrastructure/persistence/typeorm/user.entity.js';
import { UserRepository } from './user.repository.js';
import { LastSeenRecorder } from '../../realtime/last-seen-recorder.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([UserEntity])],
  controllers: [UsersController],
  // Presence keeps users' last-seen times through realtime's port.
  providers: [UserRepository, UsersService, AvatarsService, AvatarDiscards, { provide: LastSeenRecorder, useExisting: UserRepository }],
  exports: [UserRepository, UsersService, LastSeenRecorder],
})
export class UsersModule {}
