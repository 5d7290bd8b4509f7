import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { quietly } from './redis.module.js';

describe('the Redis error log', () => {
  afterEach(() => jest.useRealTimers());

  it('logs an error once, then again at most every 30 s while it repeats, with how often it came', () => {
    jest.useFakeTimers();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const onError = quietly('main');
      const refused = new Error('connect ECONNREFUSED 127.0.0.1:6379');
      for (let i = 0; i < 50; i++) {
        onError(refused); // ioredis reports every reconnect attempt, several a second
        jest.advanceTimersByTime(200);
      }
      expect(warn.mock.calls.map((c) => c[0])).toEqual(['Redis (main) error: connect ECONNREFUSED 127.0.0.1:6379']);
      jest.advanceTimersByTime(30_000);
      onError(refused);
      onError(new Error('Connection is closed.')); // another error is logged at once
      expect(warn.mock.calls.map((c) => c[0]).slice(1)).toEqual([
        'Redis (main) error: connect ECONNREFUSED 127.0.0.1:6379 (and 49 more since the last such line)',
        'Redis (main) error: Connection is closed.',
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('counts each error apart when several come in turn, as an outage brings them', () => {
    jest.useFakeTimers();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const onError = quietly('main');
      const turns = ['read ECONNRESET', 'write EPIPE', 'Command timed out'].map((m) => new Error(m));
      for (let i = 0; i < 60; i++) {
        onError(turns[i % 3]);
        jest.advanceTimersByTime(300);
      }
      expect(warn.mock.calls.map((c) => c[0])).toEqual([
        'Redis (main) error: read ECONNRESET',
        'Redis (main) error: write EPIPE',
        'Redis (main) error: Command timed out',
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});
