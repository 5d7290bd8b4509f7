import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { SeedContext, type SeedStep, type SeedStepReport } from './seed-step.js';
import { errorMessage } from '../../common/errors/error-message.js';

export type SeedReport = Record<string, SeedStepReport>;

/** Runs the seed steps in order, sharing one SeedContext, and logs what each did. */
export class Seeder {
  private readonly logger = new Logger('Seeding');
  private running: Promise<SeedReport> | undefined;

  constructor(
    private readonly steps: readonly SeedStep[],
    private readonly config: AppConfig,
  ) {}

  get stepNames(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Seeds once per process: the start hook and the seed CLI may both ask, and share the one run. */
  run(): Promise<SeedReport> {
    this.running ??= this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<SeedReport> {
    this.logger.log(`Seeding the LOCAL data: ${this.stepNames.join(', ')}`);
    const context = new SeedContext(this.config);
    const report: SeedReport = {};
    for (const step of this.steps) {
      let result: SeedStepReport;
      try {
        result = await step.run(context);
      } catch (error) {
        throw new Error(
          `Seeding step "${step.name}" failed: ${errorMessage(error)}; fix the cause, or remove seeding from MODULES to start without it.`,
          { cause: error },
        );
      }
      report[step.name] = result;
      const created = result.created.length ? `created ${result.created.join(', ')}` : 'created nothing';
      const existing = result.existing.length ? `; already there: ${result.existing.join(', ')}` : '';
      this.logger.log(`${step.name}: ${created}${existing}`);
    }
    this.logger.log('Seeding done');
    return report;
  }
}
