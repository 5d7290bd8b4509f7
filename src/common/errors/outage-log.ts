import type { LoggerService } from '@nestjs/common';
import { heldBackNote, LogThrottle } from '../logging/log-throttle.js';
import { errorMessage } from './error-message.js';

const EVERY_MS = 10_000;
/** One for the whole process: an outage fails REST requests and WebSocket frames alike. */
const throttle = new LogThrottle(EVERY_MS);

/**
 * Logs a request or frame answered 503 because the database (or another store) was away or too
 * slow: a warning with the cause, no stack (the failure is the outage, not this code), and one line
 * per 10 s while it lasts, with a count, rather than a stack per request and per frame. The access
 * line still records each request.
 *
 * `what`: what failed, and how it was answered ("GET /api/v1/chats was answered 503").
 */
export function logOutage(logger: Pick<LoggerService, 'warn'>, error: unknown, what: string): void {
  const held = throttle.pass();
  if (held === undefined) return;
  logger.warn(
    `${what}: the database (or another service it needs) is unreachable or did not answer in time (${errorMessage(error)})${heldBackNote(held)}. One line per ${EVERY_MS / 1000} s while it lasts.`,
  );
}

/**
 * Logs a failure that was not the client's doing (resolveError's `unexpected`): an outage as
 * logOutage does, with `lines.answered`; anything else, a bug, as an error with `lines.entry` and
 * the stack.
 */
export function logFailure(
  logger: Pick<LoggerService, 'warn' | 'error'>,
  error: unknown,
  outage: boolean | undefined,
  lines: { answered: string; entry: unknown },
): void {
  if (outage) logOutage(logger, error, lines.answered);
  else logger.error(lines.entry, error instanceof Error ? error.stack : undefined);
}
