import type { AppConfig } from '../../config/app-config.js';

export interface SeededUser {
  id: string;
  email: string;
  name: string;
}

/** What one seeding run has gathered so far; later steps build on what earlier ones put here. */
export class SeedContext {
  /** Every seed account, by email, whether this run created it or found it. */
  readonly users = new Map<string, SeededUser>();

  constructor(readonly config: AppConfig) {}
}

/** What a step did, by the names of the things it seeds (emails, chat titles, …). */
export interface SeedStepReport {
  created: string[];
  existing: string[];
}

/**
 * One part of the LOCAL data. A step must be idempotent: it creates what is missing, leaves what
 * exists alone (even when someone has changed it since), and a second run creates nothing.
 */
export abstract class SeedStep {
  abstract readonly name: string;
  abstract run(context: SeedContext): Promise<SeedStepReport>;
}
