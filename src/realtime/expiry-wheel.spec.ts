import { ExpiryWheel } from './expiry-wheel.js';

interface Item {
  name: string;
  expiryBucket?: number;
}

describe('ExpiryWheel', () => {
  const start = 1_000_000_000_000; // a whole second
  const setup = () => {
    const fired: string[] = [];
    const wheel = new ExpiryWheel<Item>((item) => fired.push(item.name), start);
    return { fired, wheel };
  };

  it('fires each item within the second after its deadline, never before', () => {
    const { fired, wheel } = setup();
    const a: Item = { name: 'a' };
    const b: Item = { name: 'b' };
    wheel.schedule(a, start + 1_500);
    wheel.schedule(b, start + 2_000);
    wheel.tick(start + 1_499);
    wheel.tick(start + 1_999);
    expect(fired).toEqual([]);
    wheel.tick(start + 2_000);
    expect(fired.sort()).toEqual(['a', 'b']);
    expect(wheel.size).toBe(0);
    expect(a.expiryBucket).toBeUndefined();
  });

  it('moves an item when rescheduled and forgets it when cancelled', () => {
    const { fired, wheel } = setup();
    const moved = { name: 'moved' };
    const cancelled = { name: 'cancelled' };
    wheel.schedule(moved, start + 1_000);
    wheel.schedule(moved, start + 5_000);
    wheel.schedule(cancelled, start + 1_000);
    wheel.cancel(cancelled);
    wheel.tick(start + 4_000);
    expect(fired).toEqual([]);
    wheel.tick(start + 5_000);
    expect(fired).toEqual(['moved']);
  });

  it('fires a deadline already past within the next second, and catches up after a long stall', () => {
    const { fired, wheel } = setup();
    wheel.tick(start + 10_000);
    wheel.schedule({ name: 'late' }, start + 3_000);
    wheel.schedule({ name: 'far' }, start + 86_400_000);
    wheel.tick(start + 10_999);
    expect(fired).toEqual([]);
    wheel.tick(start + 11_000);
    expect(fired).toEqual(['late']);
    wheel.tick(start + 90_000_000);
    expect(fired).toEqual(['late', 'far']);
  });
});
