import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { ACCESS_COOKIE } from '../../modules/auth/jwt.strategy.js';
import { DependencyStateDto } from '../../modules/health/dto/health.dto.js';
import { documentErrors, ErrorDto } from './error-responses.js';
import { ANY_QUERY_EXTENSION } from '../http/query-params.guard.js';
import { operationIdProblems } from './operation-ids.js';
import { operationsOf } from './operations.js';

/**
 * Swagger UI's: its scripts are files, but its page has inline styles. It shares the chat page's
 * origin (and so the sessions the page keeps in IndexedDB), so nothing from elsewhere may run or
 * load in it either.
 */
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * The OpenAPI document's description: REST is the document itself, but for the rule on query
 * parameters (`queryRule`), which no schema can say; the WebSocket gateway, which OpenAPI cannot
 * describe, in brief (the README's "WebSocket protocol in brief" has the rest).
 */
const API_INTRO =
  'A modular messenger backend: REST under /api/v1 and a WebSocket gateway at /ws. Every error has the shape { statusCode, error, code, message, details? }.';

const API_WEBSOCKET = [
  '## WebSocket: `GET /ws` (upgrade)',
  'One connection per device carries all of the user\'s chats. Frames are JSON text `{ "type": ..., ... }`; frames over 64 KiB close the connection with 1009.',
  '',
  '- **Authenticate** with `Authorization: Bearer <accessToken>` on the upgrade, the `access_token` cookie (from this origin), or a first frame `{ "type": "auth", "token" }` within 5 s (`/ws?auth=frame` ignores the cookie). The server answers `{ "type": "ready", "userId", "sessionId" }`.',
  '- **Client → server** (each may carry an `id`, echoed in the reply or error): `send_message { chatId, text, clientId }` → `message_ack { clientId, message }`; `typing { chatId, isTyping }`; `mark_read { chatId, seq }`; `sync { chats: { <chatId>: <lastSeq> } }` → every later message as `new_message`, then `synced`; `ping` → `pong`; `auth { token }` renews the token of an open socket.',
  '- **Server → client**: `new_message`, `message_updated`, `message_deleted`, `typing`, `read`, `message_seen`, `chat_created`, `chat_updated`, `chat_deleted`, `member_added`, `member_removed`, `presence`, `synced`, `pong`, `error { code, message, statusCode, id? }`.',
  '- **Close codes**: 4401 (no, invalid or expired token, or session ended: refresh, reconnect), 4403 (cookie from another origin), 1012 (server restarting or events missed: reconnect, then `sync`), 1013 (read too slowly, or too many pending sockets), 1008 (too many sockets for the user), 1009 (frame too large), 1011 (the server could not check the socket: reconnect later).',
].join('\n');

/** The OpenAPI document (/api/docs-json) and Swagger UI (/api/docs, under DOCS_CSP). */
export function setupDocs(app: NestExpressApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .use('/api/docs', (_req: Request, res: Response, next: NextFunction) => {
      res.setHeader('Content-Security-Policy', DOCS_CSP);
      next();
    });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Parley')
      .setVersion('1')
      // No servers entry: the default is this origin. An explicit "/" made generated clients
      // join it to the paths as "//api/v1/…", which a browser reads as the host "api".
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
      .addCookieAuth(ACCESS_COOKIE, { type: 'apiKey', in: 'cookie', name: ACCESS_COOKIE }, 'cookie')
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('cookie')
      .build(),
    { extraModels: [DependencyStateDto, ErrorDto] },
  );
  if (document.servers?.length === 0) delete document.servers; // the builder's empty list: no entry at all
  // A route without an operationId of its own reaches generated clients as `SomeController_method`:
  // said at start (a test pins the whole list), not refused: a route added to an application built
  // on Parley should not stop it.
  const problems = operationIdProblems(document);
  if (problems.length > 0)
    new Logger('OpenAPI').warn(
      `The OpenAPI document's operationIds: ${problems.join('; ')}. Give each route @ApiOperation({ operationId }).`,
    );
  document.info.description = [API_INTRO, queryRule(document), API_WEBSOCKET].join('\n\n');
  documentErrors(document);
  closeRequestBodies(document);
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/docs-json',
    customSiteTitle: 'Parley API',
    swaggerOptions: { persistAuthorization: true },
  });
}

/**
 * What QueryParamsGuard does, said once where a client's author reads first (each operation's 400
 * says it again with the parameters that operation takes): a query parameter an operation does not
 * list is refused, not ignored. The operations that take any (@TakesAnyQuery()) are read from the
 * document, before documentErrors takes their mark away, so the list stays true as routes come and
 * go, and with modules switched off.
 */
function queryRule(document: OpenAPIObject): string {
  const anyQuery = operationsOf(document)
    .filter(({ operation }) => operation[ANY_QUERY_EXTENSION] === true)
    .map(({ method, path, operation }) => `\`${method.toUpperCase()} ${path}\` (${operation.operationId})`);
  const exempt = anyQuery.length === 0 ? '' : ` The exceptions, which take any query parameter: ${list(anyQuery)}.`;
  return [
    '## Query parameters',
    `A query parameter an operation does not list is refused, not ignored, as an unknown body field is: \`400 VALIDATION_FAILED\`, naming it in \`details\` (a misspelt \`?limt=5\` is an error, not a page of 5), before the access token is checked. Each operation's 400 response says which parameters it takes.${exempt}`,
  ].join('\n');
}

/** "a", "a and b", "a, b and c". */
function list(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

/**
 * A JSON body with a field its route does not name is refused (400), so the body schemas say so
 * (`additionalProperties: false`) and a client generated from them refuses it first. Only schemas
 * no response uses: an answer may grow fields.
 */
function closeRequestBodies(document: OpenAPIObject): void {
  const names = (value: unknown) =>
    (JSON.stringify(value ?? {}).match(/#\/components\/schemas\/[^"]+/g) ?? []).map((ref) => ref.split('/').pop()!);
  const requested = new Set<string>();
  const answered = new Set<string>();
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as unknown[]) {
      if (typeof operation !== 'object' || operation === null || !('responses' in operation)) continue;
      const { requestBody, responses } = operation as { requestBody?: unknown; responses?: unknown };
      for (const name of names(requestBody)) requested.add(name);
      for (const name of names(responses)) answered.add(name);
    }
  }
  for (const name of requested) {
    const schema = document.components?.schemas?.[name] as { properties?: object; additionalProperties?: boolean } | undefined;
    if (schema?.properties && !answered.has(name)) schema.additionalProperties = false;
  }
}
