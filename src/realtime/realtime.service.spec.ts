import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { FanOut, type FanOutListener, type FanOutMessage } from './fan-out.js';
import { RealtimeService } from './realtime.service.js';

/** A fan-out whose every publish fails, as Redis away makes it. */
class FailingFanOut extends FanOut {
  readonly mode = 'redis';
  listen(_listener: FanOutListener): void {}
  async publish(_message: FanOutMessage): Promise<void> {
    throw new Error('Command timed out');
  }
}

describe('RealtimeService', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('logs a failing fan-out once per 10 s, counting the failures in between, and never throws', async () => {
    jest.useFakeTimers();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const realtime = new RealtimeService(new FailingFanOut());
    for (let i = 0; i < 5; i++) await realtime.send(['u'], { type: 'pong' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      'Fan-out (redis) failed: Command timed out; sockets on other instances may miss this deliver, or get it late. Check REDIS_URL and that Redis is up.',
    );
    jest.advanceTimersByTime(10_000);
    await realtime.send(['u'], { type: 'pong' });
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1][0]).toMatch(/^Fan-out \(redis\) failed \(and 4 more since the last such line\): Command timed out;/);
  });
});
