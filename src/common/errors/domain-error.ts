/**
 * The kinds of failure a client can tell apart. Each maps to one HTTP status (ERROR_TABLE in error-body.ts);
 * the same table shapes WebSocket `error` frames, so REST and WebSocket clients see one format.
 */
export type ErrorKind =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'upgrade_required'
  | 'too_large'
  | 'unsupported_media'
  | 'rate_limited'
  | 'unavailable';

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

/** A failure with a stable UPPER_SNAKE `code` that clients may branch on. */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds the client should wait, for rate limits (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: ErrorDetail[], code = 'VALIDATION_FAILED') {
    super('validation', code, message, details);
  }
}

/** An error lists at most this many details: a body of a thousand unknown fields gets twenty, and a count in the message. */
export const MAX_LISTED_DETAILS = 20;

/** Fields a request may not have, as details (the first MAX_LISTED_DETAILS), with what a message adds for the rest. */
export function unknownFields(fields: string[]): { details: ErrorDetail[]; more: string } {
  const details = fields.slice(0, MAX_LISTED_DETAILS).map((field) => ({ field, message: `property ${field} should not exist` }));
  const more = fields.length - details.length;
  return { details, more: more > 0 ? `; and ${more} more` : '' };
}

export class UnauthenticatedError extends DomainError {
  constructor(code = 'UNAUTHENTICATED', message = 'Authentication is required.') {
    super('unauthenticated', code, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(code: string, message: string) {
    super('forbidden', code, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(code: string, message: string) {
    super('not_found', code, message);
  }
}

/** A path that exists, asked with a method it does not take; `allowed` goes in the Allow header. */
export class MethodNotAllowedError extends DomainError {
  constructor(
    method: string,
    readonly allowed: string[],
  ) {
    super('method_not_allowed', 'METHOD_NOT_ALLOWED', `${method} is not allowed here; this path takes ${allowed.join(', ')}.`);
  }
}

/** A plain request to a path that only speaks another protocol (GET /ws without the WebSocket upgrade). */
export class UpgradeRequiredError extends DomainError {
  constructor(
    readonly protocol: string,
    message: string,
  ) {
    super('upgrade_required', 'UPGRADE_REQUIRED', message);
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: ErrorDetail[]) {
    super('conflict', code, message, details);
  }
}

export class TooLargeError extends DomainError {
  constructor(code: string, message: string) {
    super('too_large', code, message);
  }
}

export class UnsupportedMediaError extends DomainError {
  constructor(code: string, message: string) {
    super('unsupported_media', code, message);
  }
}

export class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number, code = 'RATE_LIMITED', message = 'Too many requests; try again later.') {
    super('rate_limited', code, message, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export class UnavailableError extends DomainError {
  /** `retryAfterSeconds` for an outage worth retrying soon (sent as Retry-After); none for a service switched off. */
  constructor(code: string, message: string, retryAfterSeconds?: number) {
    super('unavailable', code, message, undefined, retryAfterSeconds);
  }
}
