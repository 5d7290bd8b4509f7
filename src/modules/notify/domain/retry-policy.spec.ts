import { MAX_SEND_ATTEMPTS, retryDelaySeconds } from './retry-policy.js';

describe('retryDelaySeconds', () => {
  it('backs off 30 s, 2 min, 10 min, … from the default base', () => {
    expect([1, 2, 3].map((attempt) => retryDelaySeconds(attempt, 30))).toEqual([30, 120, 600]);
  });

  it('keeps growing until the last attempt, then gives up', () => {
    const delays = Array.from({ length: MAX_SEND_ATTEMPTS - 1 }, (_, i) => retryDelaySeconds(i + 1, 30)!);
    delays.slice(1).forEach((delay, i) => expect(delay).toBeGreaterThan(delays[i]));
    expect(retryDelaySeconds(MAX_SEND_ATTEMPTS, 30)).toBeUndefined();
  });

  it('retries at once with a zero base (tests)', () => {
    expect(retryDelaySeconds(1, 0)).toBe(0);
  });
});
