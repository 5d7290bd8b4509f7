import { STATUS_CODES } from 'node:http';
import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError, type ErrorDetail, type ErrorKind } from './domain-error.js';
import { isStoreUnreachable } from './store-errors.js';

/** The one error shape of the contract, for REST responses and WebSocket `error` frames alike. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: ErrorDetail[];
}

export const ERROR_TABLE: Readonly<Record<ErrorKind, { status: number; error: string }>> = {
  validation: { status: 400, error: 'Bad Request' },
  unauthenticated: { status: 401, error: 'Unauthorized' },
  forbidden: { status: 403, error: 'Forbidden' },
  not_found: { status: 404, error: 'Not Found' },
  method_not_allowed: { status: 405, error: 'Method Not Allowed' },
  conflict: { status: 409, error: 'Conflict' },
  upgrade_required: { status: 426, error: 'Upgrade Required' },
  too_large: { status: 413, error: 'Payload Too Large' },
  unsupported_media: { status: 415, error: 'Unsupported Media Type' },
  rate_limited: { status: 429, error: 'Too Many Requests' },
  unavailable: { status: 503, error: 'Service Unavailable' },
};

/** Codes for failures raised by the framework rather than by Parley's own code. */
const CODES_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

export interface ResolvedError {
  body: ErrorBody;
  retryAfterSeconds?: number;
  /** True when the failure is a bug or an outage rather than the client's doing. */
  unexpected: boolean;
  /** True when it is an outage (a store away or too slow): logged as one, not as a bug (outage-log.ts). */
  outage?: boolean;
}

/** Turns anything thrown into the contract's error shape. */
export function resolveError(error: unknown): ResolvedError {
  if (error instanceof DomainError) {
    const { status, error: phrase } = ERROR_TABLE[error.kind];
    return {
      body: {
        statusCode: status,
        error: phrase,
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
      retryAfterSeconds: error.retryAfterSeconds,
      unexpected: false,
    };
  }
  const bodyParser = bodyParserError(error);
  if (bodyParser) return { body: bodyParser, unexpected: false };
  if (isStoreUnreachable(error)) {
    // An outage, not the client's doing: logged as one (a throttled warning, outage-log.ts), answered as worth retrying.
    return {
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'SERVICE_UNAVAILABLE',
        message:
          'The server cannot reach its database (or another service it needs) just now, or it did not answer in time; try again shortly.',
      },
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
      unexpected: true,
      outage: true,
    };
  }
  if (error instanceof HttpException && error.cause instanceof URIError) {
    // Express could not decode a path parameter (`/users/%E0%A4%A`); the platform wraps that in a 400.
    const raw = /'(.*)'$/.exec(error.cause.message)?.[1]?.slice(0, 64);
    return {
      body: {
        statusCode: 400,
        error: 'Bad Request',
        code: 'VALIDATION_FAILED',
        message: `The path holds a malformed percent-encoding${raw ? ` (${JSON.stringify(raw)})` : ''}: each % must be followed by two hex digits, and the bytes must form UTF-8.`,
      },
      unexpected: false,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    let message = typeof response === 'string' ? response : (messageOf(response) ?? error.message);
    // Express's and Nest's words for a path no route takes; a newcomer trying /api/v1 learns where the routes are.
    if (status === 404 && /^Cannot [A-Z]+ \/\S*$/.test(message)) message += ': no such route (the routes are listed at /api/docs)';
    return {
      body: { statusCode: status, error: reasonPhrase(status), code: CODES_BY_STATUS[status] ?? `HTTP_${status}`, message },
      unexpected: status >= 500,
    };
  }
  return {
    body: { statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL_ERROR', message: 'Something went wrong on our side.' },
    unexpected: true,
  };
}

const STORE_RETRY_AFTER_SECONDS = 5;

/** The `type` of the error the JSON parser (common/http/json-body.ts) throws for a body that is not UTF-8. */
export const INVALID_UTF8 = 'parley.body.invalid-utf8';

/** body-parser signals bad JSON and oversized bodies with `type` and `status` on a plain error. */
function bodyParserError(error: unknown): ErrorBody | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.parse.failed') {
    // The parser takes only an object or an array (strict): `null` or `"text"` is JSON, just not a body.
    if (isJson((error as { body?: unknown }).body))
      return { statusCode: 400, error: 'Bad Request', code: 'VALIDATION_FAILED', message: 'The request body must be a JSON object.' };
    return { statusCode: 400, error: 'Bad Request', code: 'MALFORMED_JSON', message: 'The request body is not valid JSON.' };
  }
  if (type === INVALID_UTF8) {
    return { statusCode: 400, error: 'Bad Request', code: 'MALFORMED_JSON', message: 'The request body is not valid UTF-8.' };
  }
  if (type === 'entity.too.large') {
    const limit = (error as { limit?: number }).limit;
    return {
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'PAYLOAD_TOO_LARGE',
      message: limit ? `The request body is larger than ${limit} bytes.` : 'The request body is too large.',
    };
  }
  const unsupported = (message: string): ErrorBody => ({
    statusCode: 415,
    error: 'Unsupported Media Type',
    code: 'UNSUPPORTED_ENCODING',
    message,
  });
  if (type === 'charset.unsupported') {
    return unsupported('The request body charset is not supported: send JSON in UTF-8 (charset=utf-8, or no charset).');
  }
  if (type === 'encoding.unsupported') {
    return unsupported('The request body Content-Encoding is not supported: send it as is (identity), or gzip, deflate or br.');
  }
  return undefined;
}

function messageOf(response: object): string | undefined {
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.join('; ');
  return undefined;
}

/** The `error` of a body with this status: `Conflict` for 409, as every error answer has it. */
export function reasonPhrase(status: number): string {
  const known = Object.values(ERROR_TABLE).find((e) => e.status === status);
  if (known) return known.error;
  const name = HttpStatus[status];
  if (typeof name === 'string')
    return name.toLowerCase().replace(/(^|_)(\w)/g, (_m, sep: string, c: string) => (sep ? ' ' : '') + c.toUpperCase());
  return STATUS_CODES[status] ?? 'Error'; // 431 and others Nest's enum does not name
}

/**
 * Any other body the parser could not read (a gzip body that is not gzip, a length that does not
 * match, an aborted upload): it marks those with a 4xx `status` and `expose`, the client's doing.
 * Only for the error middleware right after the parser: elsewhere such an error is someone else's.
 */
export function unreadableBody(error: unknown): ErrorBody | undefined {
  if (typeof error !== 'object' || error === null || error instanceof HttpException) return undefined;
  const { status, expose, message } = error as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500 || expose !== true) return undefined;
  return {
    statusCode: status,
    error: reasonPhrase(status),
    code: CODES_BY_STATUS[status] ?? `HTTP_${status}`,
    message: `The request body could not be read: ${typeof message === 'string' ? message : 'unknown reason'}.`,
  };
}

function isJson(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
