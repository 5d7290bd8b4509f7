import { Logger, Module, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { AuthModule } from '../auth/auth.module.js';
import { UsersModule } from '../users/users.module.js';
import { ChatsModule } from '../chats/chats.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { UserRepository } from '../users/user.repository.js';
import { SEED_PASSWORD, SEED_USERS } from './seed-data.js';
import type { SeedStep } from './seed-step.js';
import { Seeder } from './seeder.js';
import { ChatsSeedStep } from './steps/chats.seed-step.js';
import { UsersSeedStep } from './steps/users.seed-step.js';

/** The seed steps, in the order they run; each may use what earlier ones left in the SeedContext. */
const SEED_STEPS: readonly Type<SeedStep>[] = [UsersSeedStep, ChatsSeedStep];

/**
 * Fake data for APP_ENV=LOCAL: on every start it makes sure the seed accounts
 * exist, with a group and a direct chat. Under PRODUCTION it seeds nothing, and warns of seed
 * accounts a LOCAL start left in the database (which sign-in refuses the seed password there). `npm run seed` runs the same steps without HTTP.
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
    private readonly users: UserRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.isLocal) {
      const left = (await Promise.all(SEED_USERS.map((u) => this.users.findByEmail(u.email)))).flatMap((u) => (u ? [u.email] : []));
      if (left.length === 0) this.logger.log(`Seeding skipped: APP_ENV is ${this.config.appEnv}; seed accounts exist only under LOCAL.`);
      else
        this.logger.warn(
          `Seeding skipped, but accounts with seed addresses are in this database (${left.join(', ')}), probably from a start under LOCAL: under ${this.config.appEnv} the seed password "${SEED_PASSWORD}" signs none of them in (a password reset gives one a password of its own).`,
        );
      return;
    }
    await this.seeder.run();
    this.logger.log(`Seed accounts sign in with the password "${SEED_PASSWORD}".`);
  }
}
