import { ApiProperty } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { PUBLIC_EXTENSION } from '../auth/public.decorator.js';
import { BODY_BY_HAND_EXTENSION } from '../http/json-body.guard.js';
import { ANY_QUERY_EXTENSION } from '../http/query-params.guard.js';
import { reasonPhrase } from '../errors/error-body.js';

/** The one error shape of every REST and WebSocket error, for the OpenAPI document. */
export class ErrorDto {
  @ApiProperty({ example: 409 }) statusCode: number;
  @ApiProperty({ example: 'Conflict' }) error: string;
  @ApiProperty({ example: 'CHAT_TITLE_TAKEN', description: 'Stable UPPER_SNAKE machine code' }) code: string;
  @ApiProperty({ example: 'You already own a group with this title.' }) message: string;
  @ApiProperty({
    required: false,
    type: 'array',
    items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    description: 'Per field, for validation errors',
  })
  details?: Array<{ field: string; message: string }>;
}

type Errors = Partial<Record<number, string[]>>;

const RATE_LIMITED: Errors = { 429: ['RATE_LIMITED'] };

/**
 * The errors each route answers besides validation (400) and, for routes that need a session,
 * authentication (401), which every route gets from `documentErrors` by itself. Keyed by
 * `METHOD path` as the document writes them.
 */
const ROUTE_ERRORS: Record<string, Errors> = {
  'POST /api/v1/auth/sign-up': { 409: ['EMAIL_TAKEN'], ...RATE_LIMITED },
  'POST /api/v1/auth/sign-in': { 401: ['INVALID_CREDENTIALS'], 429: ['RATE_LIMITED', 'TOO_MANY_ATTEMPTS'] },
  'POST /api/v1/auth/refresh': {
    401: ['UNAUTHENTICATED', 'REFRESH_REUSED', 'REFRESH_EXPIRED', 'SESSION_REVOKED', 'TOKEN_INVALID'],
    ...RATE_LIMITED,
  },
  // Public (a session ending by its refresh token alone has no access token), yet with nothing to
  // sign out of: 401. Its body is read by hand when it can be, and left aside when it cannot.
  'POST /api/v1/auth/sign-out': { 401: ['UNAUTHENTICATED'] },
  'DELETE /api/v1/auth/sessions/{id}': { 404: ['SESSION_NOT_FOUND'] },
  'POST /api/v1/auth/confirm-email': { 400: ['INVALID_TOKEN'], ...RATE_LIMITED },
  'POST /api/v1/auth/confirm-email/resend': { 409: ['EMAIL_ALREADY_CONFIRMED'], 429: ['RATE_LIMITED'], 503: ['MAIL_DISABLED'] },
  'POST /api/v1/auth/password/forgot': { 429: ['RATE_LIMITED'], 503: ['MAIL_DISABLED'] },
  'POST /api/v1/auth/password/reset': { 400: ['INVALID_TOKEN'], ...RATE_LIMITED },
  'PUT /api/v1/users/me/avatar': {
    413: ['FILE_TOO_LARGE'],
    415: ['UNSUPPORTED_MEDIA_TYPE'],
    ...RATE_LIMITED,
    503: ['STORAGE_UNAVAILABLE'],
  },
  'DELETE /api/v1/users/me/avatar': { 503: ['STORAGE_UNAVAILABLE'] },
  'GET /api/v1/users': { 400: ['INVALID_CURSOR'], ...RATE_LIMITED },
  'GET /api/v1/users/{id}': { 404: ['USER_NOT_FOUND'] },
  'GET /api/v1/users/me/avatar': { 404: ['AVATAR_NOT_FOUND'], 503: ['STORAGE_UNAVAILABLE'] },
  'GET /api/v1/users/{id}/avatar': { 404: ['AVATAR_NOT_FOUND', 'USER_NOT_FOUND'], 503: ['STORAGE_UNAVAILABLE'] },
  'POST /api/v1/chats': { 400: ['DIRECT_CHAT_WITH_SELF'], 404: ['USER_NOT_FOUND'], 409: ['CHAT_TITLE_TAKEN'], ...RATE_LIMITED },
  'GET /api/v1/chats': { 400: ['INVALID_CURSOR'] },
  'GET /api/v1/chats/{id}': { 404: ['CHAT_NOT_FOUND'] },
  'PATCH /api/v1/chats/{id}': { 403: ['CHAT_ADMIN_REQUIRED'], 404: ['CHAT_NOT_FOUND'], 409: ['CHAT_TITLE_TAKEN', 'DIRECT_CHAT_FIXED'] },
  'DELETE /api/v1/chats/{id}': { 403: ['CHAT_OWNER_REQUIRED'], 404: ['CHAT_NOT_FOUND'], 409: ['DIRECT_CHAT_FIXED'] },
  'POST /api/v1/chats/{id}/members': {
    403: ['CHAT_ADMIN_REQUIRED'],
    404: ['CHAT_NOT_FOUND', 'USER_NOT_FOUND'],
    409: ['CHAT_FULL', 'DIRECT_CHAT_FIXED'],
    ...RATE_LIMITED,
  },
  'DELETE /api/v1/chats/{id}/members/{userId}': {
    403: ['CHAT_ADMIN_REQUIRED', 'CHAT_OWNER_REQUIRED'],
    404: ['CHAT_NOT_FOUND', 'MEMBER_NOT_FOUND'],
    409: ['DIRECT_CHAT_FIXED'],
  },
  'PATCH /api/v1/chats/{id}/members/{userId}': {
    403: ['CHAT_OWNER_REQUIRED'],
    404: ['CHAT_NOT_FOUND', 'MEMBER_NOT_FOUND'],
    409: ['CHAT_TITLE_TAKEN', 'DIRECT_CHAT_FIXED', 'OWNER_MUST_TRANSFER'],
  },
  'POST /api/v1/chats/{chatId}/messages': { 404: ['CHAT_NOT_FOUND'], 409: ['CLIENT_ID_REUSED'], ...RATE_LIMITED },
  'GET /api/v1/chats/{chatId}/messages': { 404: ['CHAT_NOT_FOUND'] },
  'PATCH /api/v1/chats/{chatId}/messages/{id}': {
    403: ['NOT_MESSAGE_SENDER'],
    404: ['CHAT_NOT_FOUND', 'MESSAGE_NOT_FOUND'],
    409: ['MESSAGE_DELETED'],
    ...RATE_LIMITED,
  },
  'DELETE /api/v1/chats/{chatId}/messages/{id}': { 403: ['NOT_MESSAGE_SENDER'], 404: ['CHAT_NOT_FOUND', 'MESSAGE_NOT_FOUND'] },
  'GET /api/v1/chats/{chatId}/messages/{id}/reads': { 404: ['CHAT_NOT_FOUND', 'MESSAGE_NOT_FOUND'] },
  'POST /api/v1/chats/{chatId}/read': { 400: ['INVALID_SEQ'], 404: ['CHAT_NOT_FOUND'] },
};

function readsJsonBody(operation: Operation): boolean {
  const content = (operation.requestBody as { content?: Record<string, unknown> } | undefined)?.content;
  return content !== undefined && 'application/json' in content;
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  429: 'Rate limited: Retry-After says when to try again',
  503: 'Unavailable: try again later',
};

type Operation = {
  security?: unknown[];
  requestBody?: unknown;
  parameters?: unknown[];
  responses: Record<string, { description?: string; content?: unknown; headers?: unknown }>;
  [extension: `x-${string}`]: unknown;
};

/**
 * Writes the error responses into the document: every route's contract codes (ROUTE_ERRORS),
 * 400 for a route that takes input or refuses query parameters it does not take
 * (QueryParamsGuard), 415 for one that takes a JSON body (JsonBodyGuard), 401 for
 * one that needs a session, each with the error
 * schema and its codes. A public route (@Public()) gets `security: []`, so Swagger UI shows no
 * lock on it, unless it names optional schemes of its own (sign-out).
 */
export function documentErrors(document: OpenAPIObject): void {
  const errorSchema = { $ref: '#/components/schemas/ErrorDto' };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item)) {
      if (typeof value !== 'object' || value === null || !('responses' in value)) continue;
      const operation = value as Operation;
      const isPublic = operation[PUBLIC_EXTENSION] === true;
      delete operation[PUBLIC_EXTENSION];
      if (isPublic && !operation.security) operation.security = [];

      const errors: Errors = { ...ROUTE_ERRORS[`${method.toUpperCase()} ${path}`] };
      // Routes that document a JSON body but read it by hand (sign-out): JsonBodyGuard lets any
      // body through, and nothing validates it, so neither 415 nor VALIDATION_FAILED applies.
      const byHand = operation[BODY_BY_HAND_EXTENSION] === true;
      delete operation[BODY_BY_HAND_EXTENSION];
      const anyQuery = operation[ANY_QUERY_EXTENSION] === true;
      delete operation[ANY_QUERY_EXTENSION];
      // Input of its own is validated; a write without a body of its own refuses one with fields
      // (JsonBodyGuard); a query parameter a route does not take is refused (QueryParamsGuard).
      const takesInput = operation.requestBody !== undefined || operation.parameters?.length || !['get', 'head'].includes(method);
      if (!byHand && (takesInput || !anyQuery)) errors[400] = ['VALIDATION_FAILED', ...(errors[400] ?? [])];
      if (readsJsonBody(operation) && !byHand) {
        // What the JSON parser refuses before the route is reached (app.factory.ts).
        errors[400] = [...(errors[400] ?? []), 'MALFORMED_JSON'];
        errors[413] = [...(errors[413] ?? []), 'PAYLOAD_TOO_LARGE'];
        errors[415] = ['UNSUPPORTED_MEDIA_TYPE', ...(errors[415] ?? []), 'UNSUPPORTED_ENCODING'];
      }
      // Every path parameter of this API is an id: a UUID, in either case (uuid.pipe.ts).
      for (const parameter of (operation.parameters ?? []) as Array<{ in?: string; schema?: Record<string, unknown> }>)
        if (parameter.in === 'path' && parameter.schema) parameter.schema.format = 'uuid';
      if (!isPublic) errors[401] = ['UNAUTHENTICATED', 'TOKEN_EXPIRED', 'TOKEN_INVALID', 'SESSION_REVOKED', ...(errors[401] ?? [])];
      // Any route that reaches the database, while it cannot be reached (error-body.ts).
      if (!path.startsWith('/health')) errors[503] = [...(errors[503] ?? []), 'SERVICE_UNAVAILABLE'];
      // Any write carrying the auth cookies from a page of another origin (origin-policy.ts).
      if (!['get', 'head', 'options'].includes(method)) errors[403] = [...(errors[403] ?? []), 'ORIGIN_NOT_ALLOWED'];
      for (const [status, codes] of Object.entries(errors)) {
        const existing = operation.responses[status];
        const title = existing?.description || TITLES[Number(status)] || 'Error';
        // The contract answers 404, never 403, for a chat the caller is not in.
        const notMember = codes!.includes('CHAT_NOT_FOUND') ? ' (also for a chat you are not a member of)' : '';
        const description = `${title}${notMember}. Codes: ${codes!.join(', ')}`;
        const retryAfter = { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } };
        operation.responses[status] = Object.assign({}, existing, {
          description,
          content: {
            'application/json': { schema: errorSchema, example: exampleError(Number(status), codes![0], firstInput(document, operation)) },
          },
          ...(status === '429' || status === '503' ? { headers: retryAfter } : {}),
        });
      }
      // What Nest leaves blank for a success (`@ApiOkResponse({ type })`): the status's name.
      for (const [status, response] of Object.entries(operation.responses))
        if (/^2\d\d$/.test(status) && !response.description) response.description = reasonPhrase(Number(status));
    }
  }
}

/** A sentence for the examples of the codes most routes share; any other gets a placeholder. */
const EXAMPLE_MESSAGES: Record<string, string> = {
  UNAUTHENTICATED: 'Authentication is required.',
  TOKEN_EXPIRED: 'The access token has expired; refresh it or sign in again.',
  CHAT_NOT_FOUND: 'No such chat.',
  UNSUPPORTED_MEDIA_TYPE: 'The body is text/plain; send it as JSON, with Content-Type: application/json.',
  RATE_LIMITED: 'Too many requests; wait a moment.',
  SERVICE_UNAVAILABLE: 'The server cannot reach its database (or another service it needs) just now; try again shortly.',
};

/**
 * The example shown under an error status: the status's first code, in the one error shape. A
 * validation failure names the route's own first input (`input` when it has none of its own).
 */
function exampleError(status: number, code: string, field = 'input'): Record<string, unknown> {
  if (code === 'VALIDATION_FAILED') {
    const message = `${field} is required`;
    return { statusCode: status, error: reasonPhrase(status), code, message, details: [{ field, message }] };
  }
  return {
    statusCode: status,
    error: reasonPhrase(status),
    code,
    message: EXAMPLE_MESSAGES[code] ?? 'A sentence saying what went wrong and what to do about it.',
  };
}

/** The first field of the route's JSON body, or else its first parameter. */
function firstInput(document: OpenAPIObject, operation: Operation): string | undefined {
  const ref = (operation.requestBody as { content?: Record<string, { schema?: { $ref?: string } }> } | undefined)?.content?.[
    'application/json'
  ]?.schema?.$ref;
  const schema = ref ? document.components?.schemas?.[ref.split('/').pop()!] : undefined;
  const property = schema && 'properties' in schema ? Object.keys(schema.properties ?? {})[0] : undefined;
  return property ?? (operation.parameters?.[0] as { name?: string } | undefined)?.name;
}
