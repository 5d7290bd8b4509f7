import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { HealthRegistry } from './health-registry.js';

/** A registry with one dependency whose check counts its runs and can be held open. */
function registryWithMail() {
  const registry = new HealthRegistry({ appEnv: 'LOCAL' } as AppConfig);
  const state = { runs: 0, release: () => undefined as void };
  registry.register(
    'mail',
    'smtp',
    () =>
      new Promise<void>((resolve) => {
        state.runs++;
        state.release = resolve;
      }),
    { reuseForMs: 15_000 },
  );
  return { registry, state };
}

describe('HealthRegistry', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('does not reuse a check asked for with check() (a start-up check): the next report checks again', async () => {
    const { registry, state } = registryWithMail();
    const started = registry.check('mail');
    state.release();
    await started;
    const report = registry.report();
    expect(state.runs).toBe(2);
    state.release();
    expect((await report).mail.status).toBe('up');
    await registry.report(); // this one is reused
    expect(state.runs).toBe(2);
  });

  it('reuses a check that a report shared with check(): any caller wanting reuse decides', async () => {
    const { registry, state } = registryWithMail();
    const started = registry.check('mail');
    const report = registry.report(); // joins the running check
    expect(state.runs).toBe(1);
    state.release();
    await Promise.all([started, report]);
    await registry.report();
    expect(state.runs).toBe(1);
  });
});
