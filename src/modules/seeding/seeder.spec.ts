import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { loadConfig } from '../../config/app-config.js';
import { type SeedContext, SeedStep, type SeedStepReport } from './seed-step.js';
import { Seeder } from './seeder.js';

class FakeStep extends SeedStep {
  calls = 0;
  constructor(
    readonly name: string,
    private readonly body: (context: SeedContext) => SeedStepReport,
  ) {
    super();
  }
  async run(context: SeedContext): Promise<SeedStepReport> {
    this.calls += 1;
    return this.body(context);
  }
}

describe('Seeder', () => {
  const config = loadConfig({});
  let log: ReturnType<typeof jest.spyOn>;

  beforeEach(() => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => log.mockRestore());

  it('runs the steps in order, handing later steps what earlier ones put in the context', async () => {
    const users = new FakeStep('users', (ctx) => {
      ctx.users.set('a@example.com', { id: '1', email: 'a@example.com', name: 'A' });
      return { created: ['a@example.com'], existing: [] };
    });
    const chats = new FakeStep('chats', (ctx) => ({ created: [`chat of ${[...ctx.users.keys()].join()}`], existing: [] }));

    const report = await new Seeder([users, chats], config).run();

    expect(report).toEqual({
      users: { created: ['a@example.com'], existing: [] },
      chats: { created: ['chat of a@example.com'], existing: [] },
    });
    expect(log).toHaveBeenCalledWith('chats: created chat of a@example.com');
  });

  it('runs once per process however often it is asked', async () => {
    const step = new FakeStep('users', () => ({ created: [], existing: ['a@example.com'] }));
    const seeder = new Seeder([step], config);

    const [first, second] = await Promise.all([seeder.run(), seeder.run()]);

    expect(step.calls).toBe(1);
    expect(second).toBe(first);
  });

  it('names the failed step and stops before the next one', async () => {
    const broken = new FakeStep('users', () => {
      throw new Error('relation "users" does not exist');
    });
    const next = new FakeStep('chats', () => ({ created: [], existing: [] }));

    await expect(new Seeder([broken, next], config).run()).rejects.toThrow(
      'Seeding step "users" failed: relation "users" does not exist; fix the cause, or remove seeding from MODULES',
    );
    expect(next.calls).toBe(0);
  });
});
