/** A message is given up (status failed) after this many delivery attempts. */
export const MAX_SEND_ATTEMPTS = 6;

/**
 * Multiples of the base delay before each retry: with the default 30 s base that is 30 s, 2 min,
 * 10 min, 1 h and 6 h, long enough to ride out a mail server restart or a short outage, short
 * enough that a confirmation still arrives while its link is valid.
 */
const BACKOFF_FACTORS = [1, 4, 20, 120, 720];

/** Seconds to wait after the given failed attempt (1-based), or undefined when it was the last. */
export function retryDelaySeconds(failedAttempt: number, baseSeconds: number): number | undefined {
  if (failedAttempt >= MAX_SEND_ATTEMPTS) return undefined;
  const factor = BACKOFF_FACTORS[Math.min(Math.max(failedAttempt, 1), BACKOFF_FACTORS.length) - 1];
  return baseSeconds * factor;
}
