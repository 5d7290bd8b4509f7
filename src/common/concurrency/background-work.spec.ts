import { BackgroundWork } from './background-work.js';

describe('BackgroundWork', () => {
  it('settles once every tracked piece has, including one started while it waits, failed ones too', async () => {
    const work = new BackgroundWork();
    const done: string[] = [];
    let finishFirst!: () => void;
    let failLater!: (error: Error) => void;
    void work.track(new Promise<void>((resolve) => (finishFirst = resolve)).then(() => void done.push('first')));
    let settled = false;
    const waiting = work.settled().then(() => (settled = true));
    work.track(new Promise<void>((_, reject) => (failLater = reject))).catch(() => done.push('later failed'));
    finishFirst();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect([done, settled]).toEqual([['first'], false]);
    failLater(new Error('boom'));
    await waiting;
    expect(done).toEqual(['first', 'later failed']);
  });

  it('settles at once with nothing tracked', async () => {
    await expect(new BackgroundWork().settled()).resolves.toBeUndefined();
  });
});
