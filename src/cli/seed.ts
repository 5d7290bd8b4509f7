import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { AppLogger } from '../common/logging/app-logger.js';
import { loadConfig } from '../config/app-config.js';
import { ConfigError, type Env } from '../config/env-reader.js';
import { MODULE_REQUIREMENTS } from '../config/modules.config.js';
import { SEED_PASSWORD } from '../modules/seeding/seed-data.js';
import { Seeder, type SeedReport } from '../modules/seeding/seeder.js';
import { CliError, isMain, runCli } from './cli-support.js';

/** MODULES as configured, with seeding switched on (it is on already when MODULES is unset or "all"). */
function withSeeding(modules: string | undefined): string | undefined {
  if (!modules?.trim() || modules.trim().toLowerCase() === 'all') return modules;
  const names = modules.split(',').map((m) => m.trim().toLowerCase());
  return names.includes('seeding') ? modules : `${modules},seeding`;
}

/**
 * `npm run seed`: the LOCAL seed data, without serving HTTP. Boots the application context from
 * the configuration (so migrations run first) and runs the seed steps; idempotent like the start.
 */
export async function seed(env: Env = process.env, logger?: LoggerService): Promise<SeedReport> {
  // Seeding is added to MODULES here, so a module it needs being off is said as the command's need, not as "remove seeding".
  const listed = new Set((withSeeding(env.MODULES) ?? 'all').split(',').map((m) => m.trim().toLowerCase()));
  const missing = listed.has('all') ? [] : MODULE_REQUIREMENTS.seeding.filter((m) => !listed.has(m));
  if (missing.length > 0) {
    throw new ConfigError([
      `npm run seed needs ${MODULE_REQUIREMENTS.seeding.join(', ')} in MODULES, and MODULES=${JSON.stringify(env.MODULES)} leaves out ${missing.join(', ')}; unset MODULES or add them.`,
    ]);
  }
  // Said first: under PRODUCTION the configuration's own problems (PUBLIC_URL, secrets) are not
  // the ones standing between this user and a seed.
  if (env.APP_ENV?.trim().toUpperCase() === 'PRODUCTION') throw seedNeedsLocal('PRODUCTION');
  // The configuration as the server would take it (an unknown module, "all" among others): the
  // command must not accept what the start refuses.
  loadConfig(Object.assign({}, env, { MODULES: withSeeding(env.MODULES) }));
  // Only what seeding needs: with notify the context would start the mail worker and send, with
  // this command's mail settings, whatever mail the database holds due (another instance's).
  const config = loadConfig(Object.assign({}, env, { MODULES: [...MODULE_REQUIREMENTS.seeding, 'seeding'].join(',') }));
  if (!config.isLocal) throw seedNeedsLocal(config.appEnv);
  const context = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: logger ?? new AppLogger(config.log.level, config.log.format),
    abortOnError: false,
  });
  try {
    return await context.get(Seeder).run();
  } finally {
    await context.close();
  }
}

if (isMain(import.meta.url)) {
  runCli('Seeding', async () => {
    const report = await seed();
    const created = Object.values(report).reduce((n, step) => n + step.created.length, 0);
    process.stdout.write(created ? `Seeded ${created} new record(s).\n` : 'Nothing to seed: everything was there already.\n');
  });
}

function seedNeedsLocal(appEnv: string): CliError {
  return new CliError(`the seed accounts have the password "${SEED_PASSWORD}", so seeding runs only with APP_ENV=LOCAL (it is ${appEnv}).`);
}
