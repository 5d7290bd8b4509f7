import { Injectable } from '@nestjs/common';

export type DependencyName = 'database' | 'messageStore' | 'redis' | 'objectStorage' | 'mail';

export interface DependencyCheck {
  name: DependencyName;
  /** How the dependency is provided: 'postgres', 'embedded', 'local-files', 's3', 'smtp', … */
  mode: string;
  check: () => Promise<void>;
}

export interface DependencyState {
  status: 'up' | 'down';
  mode: string;
  latencyMs: number;
  error?: string;
}

const CHECK_TIMEOUT_MS = 3000;

/**
 * Infrastructure registers a check for each dependency it opens; the health module only reads
 * them. This keeps health free of imports from the features it reports on.
 */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<DependencyName, DependencyCheck>();

  register(name: DependencyName, mode: string, check: () => Promise<void>): void {
    this.checks.set(name, { name, mode, check });
  }

  async checkAll(): Promise<Record<string, DependencyState>> {
    const entries = await Promise.all(
      [...this.checks.values()].map(async ({ name, mode, check }) => {
        const started = Date.now();
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, { status: 'up', mode, latencyMs: Date.now() - started }] as const;
        } catch (error) {
          return [
            name,
            { status: 'down', mode, latencyMs: Date.now() - started, error: error instanceof Error ? error.message : String(error) },
          ] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
