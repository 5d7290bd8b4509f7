import { PendingSockets } from './pending-sockets.js';

describe('PendingSockets', () => {
  it('counts up to the limit per address and frees a place on release', () => {
    const pending = new PendingSockets(2);
    expect([pending.take('a'), pending.take('a'), pending.take('a'), pending.take('b')]).toEqual([true, true, false, true]);
    pending.release('a');
    expect([pending.take('a'), pending.take('a')]).toEqual([true, false]);
    pending.release('b');
    pending.release('b'); // once too often: nothing to go below, so 'b' has its two places again
    expect([pending.take('b'), pending.take('b'), pending.take('b')]).toEqual([true, true, false]);
  });
});
