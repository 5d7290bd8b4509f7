import { Logger, Module, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { AuthModule } from '../auth/auth.module.js';
import { UsersModule } from '../users/users.module.js';
import { ChatsModule } from '../chats/chats.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { SEED_PASSWORD } from './seed-data.js';
import type { SeedStep } from './seed-step.js';
import { Seeder } from './seeder.js';
import { ChatsSeedStep } from './steps/chats.seed-step.js';
import { UsersSeedStep } from './steps/users.seed-step.js';

/** The seed steps, in the order they run; each may use what earlier ones left in the SeedContext. */
const SEED_STEPS: readonly Type<SeedStep>[] = [UsersSeedStep, ChatsSeedStep];

/**
 * Fake data for APP_ENV=LOCAL: on every start it makes sure the seed accounts
 * exist, with a group and a direct chat. Under PRODUCTION it seeds nothing (and AuthService
 * closes the seed accounts a LOCAL start left in the database). `npm run seed` runs the same steps without HTTP.
 */
@Module({
  imports: [AuthModule, UsersModule, ChatsModule, MessagesModule],
  providers: [
    ...SEED_STEPS,
    {
      provide: Seeder,
      inject: [AppConfig, ...SEED_STEPS],
      useFactory: (config: AppConfig, ...steps: SeedStep[]) => new Seeder(steps, config),
    },
  ],
  exports: [Seeder],
})
export class SeedingModule implements OnApplicationBootstrap {
  private readonly logger = new Logger('Seeding');

  constructor(
    private readonly config: AppConfig,
    private readonly seeder: Seeder,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.isLocal) {
      // Seed accounts a LOCAL start left here are named and closed by AuthService.
      this.logger.log(`Seeding skipped: APP_ENV is ${this.config.appEnv}; seed accounts are made only under LOCAL.`);
      return;
    }
    await this.seeder.run();
    this.logger.log(`Seed accounts sign in with the password "${SEED_PASSWORD}".`);
  }
}
