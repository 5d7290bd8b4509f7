import { Injectable } from '@nestjs/common';

export type DependencyName = 'database' | 'messageStore' | 'redis' | 'objectStorage' | 'mail';

export interface CheckOptions {
  /**
   * Reuse a result this young instead of checking again: for checks that cost the other side
   * something (an SMTP login), since /health/ready is public and anyone may ask it often.
   */
  reuseForMs?: number;
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
  private readonly checks = new Map<DependencyName, SharedCheck>();

  register(name: DependencyName, mode: string, check: () => Promise<void>, options: CheckOptions = {}): void {
    this.checks.set(name, new SharedCheck(mode, check, options.reuseForMs ?? 0));
  }

  async checkAll(): Promise<Record<string, DependencyState>> {
    const entries = await Promise.all([...this.checks].map(async ([name, check]) => [name, await check.run()] as const));
    return Object.fromEntries(entries);
  }
}

/** One dependency's check: requests arriving while it runs share its result, so a burst of them costs one check. */
class SharedCheck {
  private running: Promise<DependencyState> | undefined;
  private last: { at: number; state: DependencyState } | undefined;

  constructor(
    private readonly mode: string,
    private readonly check: () => Promise<void>,
    private readonly reuseForMs: number,
  ) {}

  run(): Promise<DependencyState> {
    if (this.last && Date.now() - this.last.at < this.reuseForMs) return Promise.resolve(this.last.state);
    this.running ??= this.measure().then((state) => {
      this.last = { at: Date.now(), state };
      this.running = undefined;
      return state;
    });
    return this.running;
  }

  private async measure(): Promise<DependencyState> {
    const started = Date.now();
    try {
      await withTimeout(this.check(), CHECK_TIMEOUT_MS);
      return { status: 'up', mode: this.mode, latencyMs: Date.now() - started };
    } catch (error) {
      return {
        status: 'down',
        mode: this.mode,
        latencyMs: Date.now() - started,
        error: error instanceof Error ? error.message : String(error),
      };
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
