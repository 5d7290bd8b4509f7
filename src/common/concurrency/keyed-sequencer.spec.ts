import { KeyedSequencer } from './keyed-sequencer.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('KeyedSequencer', () => {
  it('runs the tasks of one key one at a time, in submission order, even when later ones are quicker', async () => {
    const sequencer = new KeyedSequencer();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, ms: number) => async () => {
      running++;
      expect(running).toBe(1);
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([
      sequencer.run('a', task('1', 20)),
      sequencer.run('a', task('2', 1)),
      sequencer.run('a', task('3', 5)),
    ]);
    expect(results).toEqual(['1', '2', '3']);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(sequencer.size).toBe(0);
  });

  it('runs different keys concurrently', async () => {
    const sequencer = new KeyedSequencer();
    const order: string[] = [];
    await Promise.all([
      sequencer.run('a', async () => {
        await tick(20);
        order.push('a');
      }),
      sequencer.run('b', async () => {
        await tick(1);
        order.push('b');
      }),
    ]);
    expect(order).toEqual(['b', 'a']);
  });

  it('goes on after a failed task, which still rejects for its caller', async () => {
    const sequencer = new KeyedSequencer();
    const failed = sequencer.run('a', () => Promise.reject(new Error('boom')));
    const next = sequencer.run('a', () => Promise.resolve('ok'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
