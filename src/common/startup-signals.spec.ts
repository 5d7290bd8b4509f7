import { exitIfStopOverruns, stopDeadlineMs } from './startup-signals.js';

describe('exitIfStopOverruns', () => {
  it('exits with 1 once the stop has taken longer than it may, saying why, and keeps no process alive meanwhile', async () => {
    const said: string[] = [];
    const exits: number[] = [];
    const timer = exitIfStopOverruns('SIGTERM', { error: (message: unknown) => void said.push(String(message)) }, 20, (code) =>
      exits.push(code),
    );
    expect(timer.hasRef()).toBe(false);
    expect(exits).toEqual([]);

    await new Promise((resolve) => setTimeout(resolve, 60));

    expect(exits).toEqual([1]);
    expect(said).toEqual([expect.stringMatching(/^Still stopping 0.02 s after SIGTERM .*; exiting now\./)]);
  });

  it('gives a stop 30 s, or a long DATABASE_QUERY_TIMEOUT with the time to open a connection and a margin', () => {
    expect(stopDeadlineMs(15)).toBe(30_000);
    expect(stopDeadlineMs(60)).toBe(75_000);
  });
});
