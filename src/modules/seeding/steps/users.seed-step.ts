import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PasswordHasher } from '../../auth/password-hasher.js';
import { UserRepository } from '../../users/user.repository.js';
import { SEED_PASSWORD, SEED_USERS } from '../seed-data.js';
import { type SeedContext, SeedStep, type SeedStepReport } from '../seed-step.js';

/** The seed accounts, confirmed, with the password `admin`; existing accounts keep their password and name. */
@Injectable()
export class UsersSeedStep extends SeedStep {
  readonly name = 'users';

  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
  ) {
    super();
  }

  async run(context: SeedContext): Promise<SeedStepReport> {
    const report: SeedStepReport = { created: [], existing: [] };
    // argon2 is slow on purpose: hash once per run, and only when some account is missing.
    let hash: Promise<string> | undefined;
    for (const seed of SEED_USERS) {
      let user = await this.users.findByEmail(seed.email);
      if (!user) {
        hash ??= this.hasher.hash(SEED_PASSWORD);
        const created = await this.users.insertIfAbsent({
          id: randomUUID(),
          email: seed.email,
          name: seed.name,
          passwordHash: await hash,
          emailConfirmedAt: new Date(),
        });
        if (created) report.created.push(seed.email);
        // The row of whoever inserted it: this run, or another instance starting alongside.
        user = await this.users.findByEmail(seed.email);
        if (!user) throw new Error(`The seed account ${seed.email} vanished right after it was inserted.`);
      }
      if (!report.created.includes(seed.email)) report.existing.push(seed.email);
      context.users.set(user.email, { id: user.id, email: user.email, name: user.name });
    }
    return report;
  }
}
