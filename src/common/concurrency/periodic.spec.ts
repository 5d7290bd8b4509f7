import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Periodic } from './periodic.js';

describe('Periodic', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs first after its delay, then every interval after each run, carrying on past a failure', async () => {
    const logger = new Logger('test');
    const warned = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const runs: number[] = [];
    const task = jest.fn(async () => {
      runs.push(Date.now());
      if (runs.length === 2) throw new Error('database away');
    });
    const periodic = new Periodic('tidy up', 1_000, task, logger);
    const start = Date.now();
    periodic.start(100);
    await jest.advanceTimersByTimeAsync(99);
    expect(task).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1 + 1_000 + 1_000);
    expect(runs.map((t) => t - start)).toEqual([100, 1_100, 2_100]);
    expect(warned).toHaveBeenCalledWith(expect.stringMatching(/^Could not tidy up \(database away\); trying again/));
    await periodic.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(task).toHaveBeenCalledTimes(3);
  });

  it('waits, when stopped, for the run in progress, and runs no more', async () => {
    let finish!: () => void;
    const task = jest.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const periodic = new Periodic('tidy up', 1_000, task, new Logger('test'));
    periodic.start(0);
    await jest.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = periodic.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(task).toHaveBeenCalledTimes(1);
  });
});
