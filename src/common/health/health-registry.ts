import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { withTimeout } from '../concurrency/within.js';
import { errorMessage } from '../errors/error-message.js';

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

/** What /health/ready says instead of the reason under APP_ENV=PRODUCTION. */
export const ERROR_IN_LOG = 'down; the server log says why';

/**
 * Infrastructure registers a check for each dependency it opens; the health module only reads
 * them. This keeps health free of imports from the features it reports on.
 *
 * A check that goes down is logged with its reason (again only if the reason changes, and once
 * more when it is back up); checks run when /health/ready is asked. /health/ready is
 * public, so under APP_ENV=PRODUCTION it does not repeat the reason, which names hosts, ports
 * and user names: it says `down` and points to the log.
 */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<DependencyName, SharedCheck>();
  private readonly showErrors: boolean;

  constructor(config: AppConfig) {
    this.showErrors = config.appEnv !== 'PRODUCTION';
  }

  register(name: DependencyName, mode: string, check: () => Promise<void>, options: CheckOptions = {}): void {
    this.checks.set(name, new SharedCheck(name, mode, check, options.reuseForMs ?? 0));
  }

  /**
   * Checks one dependency now, logging a change as /health/ready would (a start-up check, say).
   * Its result is not reused: what a dependency's user learns meanwhile (a mail server that wants
   * a login says so only when sent to) shows at the next /health/ready.
   */
  async check(name: DependencyName): Promise<void> {
    await this.checks.get(name)?.run(false);
  }

  /** Every check's state, as /health/ready shows it. */
  async report(): Promise<Record<string, DependencyState>> {
    const states = Object.fromEntries(await Promise.all([...this.checks].map(async ([name, check]) => [name, await check.run()] as const)));
    if (this.showErrors) return states;
    return Object.fromEntries(
      Object.entries(states).map(([name, state]) => [
        name,
        state.error === undefined ? state : Object.assign({}, state, { error: ERROR_IN_LOG }),
      ]),
    );
  }
}

/** One dependency's check: requests arriving while it runs share its result, so a burst of them costs one check. */
class SharedCheck {
  private static readonly logger = new Logger('Health');
  private running: Promise<DependencyState> | undefined;
  private runningReusable = false;
  private last: { at: number; state: DependencyState } | undefined;

  constructor(
    private readonly name: DependencyName,
    private readonly mode: string,
    private readonly check: () => Promise<void>,
    private readonly reuseForMs: number,
  ) {}

  /**
   * `reusable`: whether later calls within reuseForMs may answer with this result. Callers who
   * share one check share its result: it is reusable when any of them asked for that.
   */
  run(reusable = true): Promise<DependencyState> {
    if (this.last && Date.now() - this.last.at < this.reuseForMs) return Promise.resolve(this.last.state);
    this.runningReusable ||= reusable;
    this.running ??= this.measure().then((state) => {
      this.logChange(this.last?.state, state);
      this.last = { at: this.runningReusable ? Date.now() : -Infinity, state };
      this.runningReusable = false;
      this.running = undefined;
      return state;
    });
    return this.running;
  }

  private logChange(before: DependencyState | undefined, now: DependencyState): void {
    if (now.status === 'down' && (before?.status !== 'down' || before.error !== now.error))
      SharedCheck.logger.warn(`${this.name} (${this.mode}) is down: ${now.error ?? 'no reason given'}`);
    else if (now.status === 'up' && before?.status === 'down') SharedCheck.logger.log(`${this.name} (${this.mode}) is up again.`);
  }

  private async measure(): Promise<DependencyState> {
    const started = Date.now();
    try {
      await withTimeout(this.check(), CHECK_TIMEOUT_MS, () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`), { unref: true });
      return { status: 'up', mode: this.mode, latencyMs: Date.now() - started };
    } catch (error) {
      return {
        status: 'down',
        mode: this.mode,
        latencyMs: Date.now() - started,
        error: errorMessage(error),
      };
    }
  }
}
