import { jest } from '@jest/globals';
import { logFailure, logOutage } from './outage-log.js';

describe('logOutage', () => {
  afterEach(() => jest.useRealTimers());

  it('warns once per 10 s while an outage lasts, with the cause and how many it held back, and no stack', () => {
    jest.useFakeTimers({ now: new Date('2026-12-07T12:00:00Z') });
    const lines: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => void lines.push(args) };
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

    logOutage(logger, refused, 'GET /api/v1/chats was answered 503');
    logOutage(logger, refused, 'GET /api/v1/chats was answered 503');
    jest.setSystemTime(new Date('2026-12-07T12:00:09Z'));
    logOutage(logger, refused, 'A send_message frame was answered SERVICE_UNAVAILABLE');
    jest.setSystemTime(new Date('2026-12-07T12:00:11Z'));
    logOutage(logger, refused, 'A send_message frame was answered SERVICE_UNAVAILABLE');

    expect(lines).toEqual([
      [
        expect.stringMatching(
          /^GET \/api\/v1\/chats was answered 503: the database .*\(connect ECONNREFUSED 127\.0\.0\.1:5432\)\. One line per 10 s/,
        ),
      ],
      [expect.stringMatching(/^A send_message frame was answered SERVICE_UNAVAILABLE: .*\(and 2 more since the last such line\)\./)],
    ]);
  });
});

describe('logFailure', () => {
  afterEach(() => jest.useRealTimers());

  it('logs a bug as an error with its stack, and an outage as a throttled warning without one', () => {
    jest.useFakeTimers({ now: new Date('2026-12-08T12:00:00Z') });
    const warnings: unknown[][] = [];
    const errors: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => void warnings.push(args), error: (...args: unknown[]) => void errors.push(args) };
    const bug = new TypeError('x is undefined');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

    logFailure(logger, bug, false, { answered: 'unused', entry: { msg: 'Unhandled error' } });
    logFailure(logger, refused, true, { answered: 'GET /api/v1/chats was answered 503', entry: 'unused' });

    expect(errors).toEqual([[{ msg: 'Unhandled error' }, bug.stack]]);
    expect(warnings).toEqual([[expect.stringMatching(/^GET \/api\/v1\/chats was answered 503: .*ECONNREFUSED/)]]);
  });
});
