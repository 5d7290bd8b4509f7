import { ApiProperty } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { PUBLIC_EXTENSION } from '../auth/public.decorator.js';
import { BODY_BY_HAND_EXTENSION } from '../http/json-body.guard.js';
import { ANY_QUERY_EXTENSION } from '../http/query-params.guard.js';
import { reasonPhrase } from '../errors/error-body.js';
import { USER_LIMIT_MESSAGES } from '../rate-limit/user-rate-limiter.js';

/** The one error shape of every REST and WebSocket error, for the OpenAPI document. */
export class ErrorDto {
  @ApiProperty({ type: 'integer', example: 409 }) statusCode: number;
  @ApiProperty({ example: 'Conflict' }) error: string;
  @ApiProperty({ example: 'CHAT_TITLE_TAKEN', description: 'Stable UPPER_SNAKE machine code' }) code: string;
  @ApiProperty({ example: 'You already own a group with this title (titles are compared ignoring case).' }) message: string;
  @ApiProperty({
    required: false,
    type: 'array',
    items: {
      type: 'object',
      required: ['field', 'message'],
      properties: { field: { type: 'string' }, message: { type: 'string' } },
    },
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
  // A name change tells everyone one has a direct chat with: it shares the uploads' limit.
  'PATCH /api/v1/users/me': { ...RATE_LIMITED },
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
    // The owner leaving, when everyone who could take the group over owns one with its title.
    409: ['CHAT_TITLE_TAKEN', 'DIRECT_CHAT_FIXED'],
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
  'POST /api/v1/chats/{chatId}/read': { 400: ['INVALID_SEQ'], 404: ['CHAT_NOT_FOUND'], ...RATE_LIMITED },
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
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  parameters?: unknown[];
  responses: Record<string, { description?: string; content?: unknown; headers?: unknown }>;
  [extension: `x-${string}`]: unknown;
};

type Parameter = { in?: string; name?: string; schema?: Record<string, unknown> };

/** What a route is, as far as its examples need to know. */
interface Route {
  method: string;
  path: string;
  operation: Operation;
  /** It takes any query parameter (@TakesAnyQuery()): none is refused. */
  anyQuery: boolean;
}

/**
 * Writes the error responses into the document: every route's contract codes (ROUTE_ERRORS),
 * 400 for a route that takes input or refuses query parameters it does not take
 * (QueryParamsGuard), 415 for one that takes a JSON body (JsonBodyGuard), 401 for
 * one that needs a session, what the JSON parser refuses wherever it runs, each with the error
 * schema, its codes and an example that fits the route, and a `default` for any other error.
 * A public route (@Public()) gets `security: []`, so Swagger UI shows no lock on it; one that
 * names optional schemes of its own (sign-out) gets the empty requirement `{}` among them.
 */
/** The routes ROUTE_ERRORS names ("METHOD /path" as the document writes it): a test checks each is still a route. */
export function routesWithErrorCodes(): string[] {
  return Object.keys(ROUTE_ERRORS);
}

export function documentErrors(document: OpenAPIObject): void {
  const errorSchema = { $ref: '#/components/schemas/ErrorDto' };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item)) {
      if (typeof value !== 'object' || value === null || !('responses' in value)) continue;
      const operation = value as Operation;
      const isPublic = operation[PUBLIC_EXTENSION] === true;
      delete operation[PUBLIC_EXTENSION];
      if (isPublic) operation.security = optionalSecurity(operation.security);

      const errors: Errors = { ...ROUTE_ERRORS[`${method.toUpperCase()} ${path}`] };
      // Routes that document a JSON body but read it by hand (sign-out): JsonBodyGuard lets any
      // body through, and nothing validates it, so neither 415 nor VALIDATION_FAILED applies.
      const byHand = operation[BODY_BY_HAND_EXTENSION] === true;
      delete operation[BODY_BY_HAND_EXTENSION];
      const anyQuery = operation[ANY_QUERY_EXTENSION] === true;
      delete operation[ANY_QUERY_EXTENSION];
      if (!byHand) {
        // Input of its own is validated; a write without a body of its own refuses one with
        // fields (JsonBodyGuard); a query parameter a route does not take is refused
        // (QueryParamsGuard). Then what the JSON parser refuses (common/http/json-body.ts): it reads a body
        // sent as application/json to any route at all, to one that takes no body (a GET, a
        // DELETE, the avatar upload) too, and refuses JSON that is not an object as a validation
        // failure. Only sign-out leaves aside a body the parser cannot read.
        errors[400] = ['VALIDATION_FAILED', ...(errors[400] ?? []), 'MALFORMED_JSON'];
        errors[413] = [...(errors[413] ?? []), 'PAYLOAD_TOO_LARGE'];
        errors[415] = [...(errors[415] ?? []), 'UNSUPPORTED_ENCODING'];
      }
      if (readsJsonBody(operation) && !byHand) errors[415] = ['UNSUPPORTED_MEDIA_TYPE', ...(errors[415] ?? [])];
      // Every path parameter of this API is an id: a UUID, in either case (uuid.pipe.ts).
      for (const parameter of (operation.parameters ?? []) as Parameter[])
        if (parameter.in === 'path' && parameter.schema) parameter.schema.format = 'uuid';
      if (!isPublic) errors[401] = ['UNAUTHENTICATED', 'TOKEN_EXPIRED', 'TOKEN_INVALID', 'SESSION_REVOKED', ...(errors[401] ?? [])];
      // Any route that reaches the database, while it cannot be reached (error-body.ts).
      if (!path.startsWith('/health')) errors[503] = [...(errors[503] ?? []), 'SERVICE_UNAVAILABLE'];
      // Any write carrying the auth cookies from a page of another origin (origin-policy.ts).
      if (!['get', 'head', 'options'].includes(method)) errors[403] = [...(errors[403] ?? []), 'ORIGIN_NOT_ALLOWED'];
      const route: Route = { method: method.toUpperCase(), path, operation, anyQuery };
      for (const [status, codes] of Object.entries(errors)) {
        const existing = operation.responses[status];
        const title = existing?.description || TITLES[Number(status)] || 'Error';
        // The contract answers 404, never 403, for a chat the caller is not in.
        const notMember = codes!.includes('CHAT_NOT_FOUND') ? ' (also for a chat you are not a member of)' : '';
        const description = `${title}${notMember}${status === '400' ? queryNote(route) : ''}. Codes: ${codes!.join(', ')}`;
        const retryAfter = { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } };
        operation.responses[status] = Object.assign({}, existing, {
          description,
          content: {
            'application/json': { schema: errorSchema, example: exampleError(Number(status), codes![0], document, route) },
          },
          ...(status === '429' || status === '503' ? { headers: retryAfter } : {}),
        });
      }
      // Whatever else may come (500 INTERNAL_ERROR above all) has the same shape: a client can
      // read `code` from any error without a case for each status.
      operation.responses.default ??= {
        description: 'Any other error, in the same shape: 500 INTERNAL_ERROR when something fails on the server',
        content: { 'application/json': { schema: errorSchema, example: exampleError(500, 'INTERNAL_ERROR', document, route) } },
      };
      // What Nest leaves blank for a success (`@ApiOkResponse({ type })`): the status's name.
      for (const [status, response] of Object.entries(operation.responses))
        if (/^2\d\d$/.test(status) && !response.description) response.description = reasonPhrase(Number(status));
    }
  }
}

/**
 * What a 400 says of the query (QueryParamsGuard): a parameter the operation does not list is
 * refused, not ignored. Nothing on a route that takes any (@TakesAnyQuery()).
 */
function queryNote(route: Route): string {
  if (route.anyQuery) return '';
  const taken = ((route.operation.parameters ?? []) as Parameter[]).filter((p) => p.in === 'query').map((p) => p.name);
  return taken.length === 0
    ? ' (also VALIDATION_FAILED for any query parameter: this operation takes none)'
    : ` (also VALIDATION_FAILED for a query parameter other than ${taken.join(', ')})`;
}

/**
 * A public route's requirements: none (`[]`, no lock in Swagger UI), or, for one that names
 * schemes of its own because it uses a session when one is sent (sign-out), those schemes and the
 * empty requirement `{}`, which makes them optional: without it Swagger UI shows a lock and a
 * client generated from the document will not call the route without a token.
 */
function optionalSecurity(security: Operation['security']): Operation['security'] {
  if (!security?.length) return [];
  return security.some((requirement) => Object.keys(requirement).length === 0) ? security : [...security, {}];
}

/** A sentence for the examples of the codes most routes share; any other gets a placeholder. */
const EXAMPLE_MESSAGES: Record<string, string> = {
  UNAUTHENTICATED: 'Authentication is required.',
  TOKEN_EXPIRED: 'The access token has expired; refresh it or sign in again.',
  CHAT_NOT_FOUND: 'No such chat.',
  UNSUPPORTED_MEDIA_TYPE: 'The body is text/plain; send it as JSON, with Content-Type: application/json.',
  UNSUPPORTED_ENCODING: 'The request body charset is not supported: send JSON in UTF-8 (charset=utf-8, or no charset).',
  MALFORMED_JSON: 'The request body is not valid JSON.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  RATE_LIMITED: 'You are sending or editing messages too fast; wait a moment.',
  SERVICE_UNAVAILABLE:
    'The server cannot reach its database (or another service it needs) just now, or it did not answer in time; try again shortly.',
  INTERNAL_ERROR: 'Something went wrong on our side.',
  // The routes' own codes, in the server's words (the sentence of the first place that throws each).
  AVATAR_NOT_FOUND: 'This user has no avatar.',
  CHAT_ADMIN_REQUIRED: 'Only the owner or an admin can add members.',
  CHAT_FULL: 'A group holds at most 1000 members.',
  CHAT_OWNER_REQUIRED: 'Only the owner can change roles.',
  CHAT_TITLE_TAKEN: 'You already own a group with this title (titles are compared ignoring case).',
  CLIENT_ID_REUSED: 'You already used this clientId for a message in another chat; use a new UUID per message.',
  DIRECT_CHAT_FIXED: 'A direct chat always has exactly its two people; this does not apply to it.',
  EMAIL_ALREADY_CONFIRMED: 'This email address is already confirmed.',
  EMAIL_TAKEN: 'An account with this email already exists.',
  FILE_TOO_LARGE: 'The avatar is larger than 5 MiB; send a smaller image.',
  INVALID_CREDENTIALS: 'The email or password is wrong.',
  MAIL_DISABLED: 'Password reset needs email, and the notify module is switched off on this server.',
  MEMBER_NOT_FOUND: 'That user is not a member of this chat.',
  MESSAGE_DELETED: 'This message was deleted.',
  MESSAGE_NOT_FOUND: 'No such message in this chat.',
  NOT_MESSAGE_SENDER: 'Only the sender can edit a message.',
  ORIGIN_NOT_ALLOWED:
    "A page at https://elsewhere.example may not act with this site's cookies; list it in CORS_ORIGINS, or send a bearer token.",
  OWNER_MUST_TRANSFER: 'Give the owner role to someone else instead of demoting yourself.',
  REFRESH_EXPIRED: 'The refresh token has expired; sign in again.',
  REFRESH_REUSED: 'This refresh token was already used; the session has been revoked for safety. Sign in again.',
  SESSION_NOT_FOUND: 'No such session.',
  SESSION_REVOKED: 'This session has ended; sign in again.',
  STORAGE_UNAVAILABLE: 'Object storage did not answer; try again later.',
  TOKEN_INVALID: 'The access token is invalid.',
  TOO_MANY_ATTEMPTS: 'Too many failed sign-ins for this account; try again later or reset the password.',
  USER_NOT_FOUND: 'No such user.',
};

type Example = { message: string; details?: Array<{ field: string; message: string }> };

/** The validation failures with codes of their own, with the field they name. */
const CODE_EXAMPLES: Record<string, Example> = {
  DIRECT_CHAT_WITH_SELF: {
    message: 'A direct chat needs another person.',
    details: [{ field: 'userId', message: 'userId must not be your own id' }],
  },
  INVALID_CURSOR: {
    message: 'The cursor is not valid; pass back a nextCursor from a previous page.',
    details: [{ field: 'cursor', message: 'cursor is malformed' }],
  },
  INVALID_SEQ: { message: 'seq 12 is beyond the newest message (9).', details: [{ field: 'seq', message: 'seq must be at most 9' }] },
  INVALID_TOKEN: {
    message: 'The link is invalid, already used or expired; ask for a new one.',
    details: [{ field: 'token', message: 'token is invalid or expired' }],
  },
};

/**
 * What a route says in its own words, where the code's usual sentence would mislead: the avatar
 * upload takes multipart, not JSON (avatar-upload.interceptor.ts, avatars.service.ts).
 */
const ROUTE_EXAMPLES: Record<string, Record<string, Example>> = {
  'PUT /api/v1/users/me/avatar': {
    VALIDATION_FAILED: {
      message: 'Send the image as multipart/form-data in the field "file".',
      details: [{ field: 'file', message: 'file is required' }],
    },
    UNSUPPORTED_MEDIA_TYPE: { message: 'Send the avatar as multipart/form-data with the image in the field "file", not as text/plain.' },
    FILE_TOO_LARGE: { message: 'The avatar is larger than 5 MiB; send a smaller image.' },
  },
};

/**
 * The words a 429 RATE_LIMITED says on each route: its limit's own (a rename is refused as a
 * profile change, not as messages sent too fast); the auth routes' per-address limit elsewhere
 * under /auth.
 */
const RATE_LIMIT_WORDS: Record<string, string> = {
  'PUT /api/v1/users/me/avatar': USER_LIMIT_MESSAGES.uploads,
  'PATCH /api/v1/users/me': USER_LIMIT_MESSAGES.uploads,
  'GET /api/v1/users': USER_LIMIT_MESSAGES.search,
  'POST /api/v1/chats': USER_LIMIT_MESSAGES.chats,
  'POST /api/v1/chats/{id}/members': USER_LIMIT_MESSAGES.chats,
  'POST /api/v1/chats/{chatId}/messages': USER_LIMIT_MESSAGES.messages,
  'PATCH /api/v1/chats/{chatId}/messages/{id}': USER_LIMIT_MESSAGES.messages,
  'POST /api/v1/chats/{chatId}/read': USER_LIMIT_MESSAGES.reads,
};

function rateLimitWords(route: Route): string {
  const own = RATE_LIMIT_WORDS[`${route.method} ${route.path}`];
  if (own) return own;
  return route.path.startsWith('/api/v1/auth/')
    ? 'Too many authentication requests from this address; try again later.'
    : (EXAMPLE_MESSAGES.RATE_LIMITED ?? 'Too many requests; wait a moment.');
}

/** The example shown under an error status: the status's first code, in the one error shape. */
function exampleError(status: number, code: string, document: OpenAPIObject, route: Route): Record<string, unknown> {
  const shape = { statusCode: status, error: reasonPhrase(status), code };
  const own = ROUTE_EXAMPLES[`${route.method} ${route.path}`]?.[code] ?? CODE_EXAMPLES[code];
  if (own) return Object.assign(shape, own);
  if (code === 'VALIDATION_FAILED') return Object.assign(shape, validationExample(document, route));
  if (code === 'RATE_LIMITED') return Object.assign(shape, { message: rateLimitWords(route) });
  return Object.assign(shape, { message: EXAMPLE_MESSAGES[code] ?? 'A sentence saying what went wrong and what to do about it.' });
}

/**
 * A validation failure this route can really answer, in the words the server uses: a required
 * body field left out (validation.pipe.ts), an id that is not a UUID (uuid.pipe.ts), a query
 * parameter out of range or not taken (QueryParamsGuard), a body sent to a route that takes none
 * (JsonBodyGuard), or, on a route that takes anything, JSON that is not an object (error-body.ts).
 */
function validationExample(document: OpenAPIObject, route: Route): Example {
  const detail = (field: string, message: string) => ({ message, details: [{ field, message }] });
  const unknown = (message: string) => ({ message, details: [{ field: 'x', message: 'property x should not exist' }] });
  const body = bodySchema(document, route.operation);
  const required = body?.required?.[0];
  if (required) return detail(required, `${required} is required`);
  // A body whose fields are all optional (refresh): an unknown one is refused (whitelist).
  if (body) return unknown('property x should not exist');
  const parameters = (route.operation.parameters ?? []) as Parameter[];
  const id = parameters.find((p) => p.in === 'path')?.name;
  if (id) return detail(id, `${id} must be a UUID`);
  const queries = parameters.filter((p) => p.in === 'query');
  const bounded = queries.find((p) => typeof p.schema?.maximum === 'number');
  if (bounded) return detail(bounded.name!, `${bounded.name} must not be greater than ${bounded.schema!.maximum as number}`);
  if (route.anyQuery) return { message: 'The request body must be a JSON object.' };
  const where = `${route.method} ${route.path}`;
  if (queries.length > 0)
    return unknown(`${where} takes only ${queries.map((p) => p.name).join(', ')} as query parameters; leave out "x".`);
  if (['GET', 'HEAD'].includes(route.method)) return unknown(`${where} takes no query parameters; leave out "x".`);
  return unknown(`${where} takes no body; leave it out.`);
}

/** The schema of the route's JSON body, when it has one (the first of several shapes, as for a chat). */
function bodySchema(document: OpenAPIObject, operation: Operation): { required?: string[] } | undefined {
  type Ref = { $ref?: string };
  const schema = (operation.requestBody as { content?: Record<string, { schema?: Ref & { oneOf?: Ref[] } }> } | undefined)?.content?.[
    'application/json'
  ]?.schema;
  const ref = schema?.$ref ?? schema?.oneOf?.[0]?.$ref;
  return ref ? (document.components?.schemas?.[ref.split('/').pop()!] as { required?: string[] } | undefined) : undefined;
}
