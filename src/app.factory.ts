import { isUtf8 } from 'node:buffer';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NotFoundException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { UpgradeRequiredError } from './common/errors/domain-error.js';
import { INVALID_UTF8, resolveError, unreadableBody } from './common/errors/error-body.js';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter.js';
import { switchedOffModule } from './common/http/switched-off.js';
import { API_PREFIX, UNPREFIXED_PATHS } from './common/http/route-prefix.js';
import { methodNotAllowed, pathOf } from './common/http/allowed-methods.js';
import { answerClientErrorsInShape } from './common/http/client-errors.js';
import { cookieWritesFromAllowedOrigins, OriginPolicy, refusePreflightsFromOtherOrigins } from './common/http/origin-policy.js';
import { AppLogger } from './common/logging/app-logger.js';
import { createValidationPipe } from './common/pipes/validation.pipe.js';
import { requestIdMiddleware } from './common/request-context/request-id.middleware.js';
import { closingOnFailure } from './common/startup-scope.js';
import { ACCESS_COOKIE, REFRESH_COOKIE } from './modules/auth/jwt.strategy.js';
import { DependencyStateDto } from './modules/health/dto/health.dto.js';
import { documentErrors, ErrorDto } from './common/openapi/error-responses.js';
import { RealtimeWsAdapter } from './realtime/realtime.ws-adapter.js';
import { WS_PATH } from './realtime/realtime-settings.js';
import { securityHeaders } from './common/http/security-headers.js';

/**
 * The test chat page's files. This module runs from src/ under ts-jest and from dist/src/ when
 * compiled, so the project root is found by walking up to package.json rather than by a fixed depth.
 */
export const PUBLIC_DIR = join(findProjectRoot(import.meta.dirname), 'public');

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '..', '..');
  }
}

/** What the test chat page cannot work without (notify is optional: it says when mail is off). */
const PAGE_MODULES = ['auth', 'users', 'chats', 'messages'] as const;

/**
 * The page is plain same-origin files: nothing inline, nothing from elsewhere. connect-src lists
 * ws:/wss: because older browsers do not count a same-origin WebSocket as 'self'.
 */
const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

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
 * JSON bodies are UTF-8 (RFC 8259). The parser takes any `charset=utf-*` it is told (UTF-16 too):
 * another one is refused as latin1 is (415 UNSUPPORTED_ENCODING). And it decodes with
 * replacement: bytes that are not UTF-8 would reach the handlers, and the database, as U+FFFD.
 * Such a body is refused instead (400 MALFORMED_JSON, error-body.ts).
 */
function refuseInvalidUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase().replace('-', '') !== 'utf8') {
    throw Object.assign(new Error(`The request body is in ${encoding}.`), { type: 'charset.unsupported' });
  }
  if (!isUtf8(body)) throw Object.assign(new Error('The request body is not valid UTF-8.'), { type: INVALID_UTF8 });
}

/** body-parser's refusals (and ours above, and refuseDeclaredOversize's) all carry a `type`. */
function isBodyError(error: unknown): boolean {
  return typeof (error as { type?: unknown } | null)?.type === 'string';
}

/**
 * Sign-out (AuthController.signOut) finds the session by token or cookie, and takes a refresh
 * token from the body only when it can: a body it cannot read (broken JSON, a charset, too large)
 * must not keep anyone signed in. Matched as Express routes: any case, a trailing slash or not.
 */
function ignoresUnreadableBody(req: Request): boolean {
  return req.method === 'POST' && req.path.toLowerCase().replace(/\/+$/, '') === `/${API_PREFIX}/auth/sign-out`;
}

/** Builds the whole application (HTTP, WebSocket, docs) without listening: main.ts and tests share it. */
/**
 * The OpenAPI document's description: REST is the document itself; the WebSocket gateway, which
 * OpenAPI cannot describe, in brief (the README's "WebSocket protocol in brief" has the rest).
 */
const API_DESCRIPTION = [
  'A modular messenger backend: REST under /api/v1 and a WebSocket gateway at /ws. Every error has the shape { statusCode, error, code, message, details? }.',
  '',
  '## WebSocket: `GET /ws` (upgrade)',
  'One connection per device carries all of the user\'s chats. Frames are JSON text `{ "type": ..., ... }`; frames over 64 KiB close the connection with 1009.',
  '',
  '- **Authenticate** with `Authorization: Bearer <accessToken>` on the upgrade, the `access_token` cookie (from this origin), or a first frame `{ "type": "auth", "token" }` within 5 s (`/ws?auth=frame` ignores the cookie). The server answers `{ "type": "ready", "userId", "sessionId" }`.',
  '- **Client → server** (each may carry an `id`, echoed in the reply or error): `send_message { chatId, text, clientId }` → `message_ack { clientId, message }`; `typing { chatId, isTyping }`; `mark_read { chatId, seq }`; `sync { chats: { <chatId>: <lastSeq> } }` → every later message as `new_message`, then `synced`; `ping` → `pong`; `auth { token }` renews the token of an open socket.',
  '- **Server → client**: `new_message`, `message_updated`, `message_deleted`, `typing`, `read`, `message_seen`, `chat_created`, `chat_updated`, `chat_deleted`, `member_added`, `member_removed`, `presence`, `synced`, `pong`, `error { code, message, statusCode, id? }`.',
  '- **Close codes**: 4401 (no, invalid or expired token, or session ended: refresh, reconnect), 4403 (cookie from another origin), 1012 (server restarting or events missed: reconnect, then `sync`), 1013 (read too slowly, or too many pending sockets), 1008 (too many sockets for the user), 1009 (frame too large).',
].join('\n');

export async function createApp(
  config: AppConfig,
  logger = new AppLogger(config.log.level, config.log.format),
  options: { shutdownHooks?: boolean; signals?: NodeJS.EventEmitter } = {},
): Promise<NestExpressApplication> {
  // A stop signal while starting is kept until the start is through: the providers are made (the
  // embedded database's first start, seconds) and the start-up hooks have run (migrations done,
  // the LOCAL seed whole). Then what is open is closed in order and the start reports it stopped.
  // Nest's own shutdown hooks take over only once the app is up.
  const early = options.shutdownHooks ? holdStopSignals(options.signals ?? process, logger) : undefined;
  let app: NestExpressApplication;
  try {
    app = await closingOnFailure(() =>
      NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
        logger,
        bodyParser: false,
        abortOnError: false,
      }),
    );
    if (!early?.received) {
      try {
        await initApp(configureApp(app, config, logger), config);
      } catch (error) {
        await app.close().catch(() => undefined); // the start's own error is the one to report
        throw error;
      }
    }
  } finally {
    early?.release();
  }
  if (early?.received) {
    await app.close().catch(() => undefined); // the signal is what to report
    throw new StartInterrupted(early.received);
  }
  if (options.shutdownHooks) app.enableShutdownHooks(STOP_SIGNALS);
  return app;
}

/**
 * Initialises the app (routes, gateways, start-up hooks), then answers whatever no route took
 * in the contract's shape: 405 on a path routes take under other methods, 404 otherwise. Nest's
 * own not-found answer covers only its global prefix (/api/v1): elsewhere (/ui/missing.js, /ws
 * with auth off, /anything) Express answered in HTML.
 * Routes added to the app after this are never reached: add them in configureApp.
 */
export async function initApp(app: NestExpressApplication, config: AppConfig): Promise<NestExpressApplication> {
  await app.init();
  answerClientErrorsInShape(app.getHttpServer());
  app
    .getHttpAdapter()
    .getInstance()
    .use((req: Request, res: Response) => {
      const notAllowed = methodNotAllowed(req); // POST /ui/config.json, DELETE /api/docs, …
      const switchedOff = notAllowed ? undefined : switchedOffModule(pathOf(req), config.modules); // /health without health
      const { body } = resolveError(notAllowed ?? switchedOff ?? new NotFoundException(`Cannot ${req.method} ${req.path}`));
      if (notAllowed) res.setHeader('Allow', notAllowed.allowed.join(', '));
      res.status(body.statusCode).json(body);
    });
  return app;
}

/**
 * Everything createApp does after the module graph exists: middleware, CORS, prefix, pipes,
 * filters, the WebSocket adapter, docs. Exposed so a test can apply it to a testing module's app.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig, logger: AppLogger): NestExpressApplication {
  app.set('trust proxy', config.http.trustProxy);
  app.disable('x-powered-by');

  app.use(requestIdMiddleware(logger));
  app.use(securityHeaders(config.http.publicUrl));
  // Before the body parser, so that its error answers (400, 413, 415) carry the CORS headers too
  // and a page on an allowed origin can read them.
  const allowedOrigins = new Set([config.http.publicUrl, ...config.http.corsOrigins]);
  app.enableCors({
    origin: (origin, callback) => callback(null, origin === undefined || allowedOrigins.has(origin)),
    credentials: true,
    exposedHeaders: ['X-Request-Id', 'Retry-After'],
  });
  app.use(refusePreflightsFromOtherOrigins());
  app.use(cookieParser());
  app.use(cookieWritesFromAllowedOrigins(new OriginPolicy(config), [ACCESS_COOKIE, REFRESH_COOKIE]));
  app.use(refuseDeclaredOversize(config.http.jsonBodyLimit));
  app.use(express.json({ limit: config.http.jsonBodyLimit, verify: refuseInvalidUtf8 }));
  // Errors from the parser above never reach Nest's filters: answer them in the same shape here.
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (isBodyError(error) && ignoresUnreadableBody(req)) {
      req.body = undefined;
      return next();
    }
    const resolved = resolveError(error);
    const body = resolved.unexpected ? (unreadableBody(error) ?? resolved.body) : resolved.body;
    res.status(body.statusCode).json(body);
  });

  app.setGlobalPrefix(API_PREFIX, { exclude: [...UNPREFIXED_PATHS] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(config.modules));
  const http = app.getHttpAdapter().getInstance();
  // No ETag of Express's own: API answers say Cache-Control: no-store, and a conditional GET of
  // one (304) would still run the whole handler. An avatar sets its own, and answers 304 to it.
  http.set('etag', false);
  if (config.isEnabled('auth')) {
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    // The gateway takes only upgrade requests; a plain GET (a browser tab, curl) learns what to do.
    http.get(WS_PATH, (_req: Request, res: Response) => {
      const refusal = new UpgradeRequiredError('websocket', `${WS_PATH} is the WebSocket gateway: connect with a WebSocket client.`);
      res.setHeader('Upgrade', refusal.protocol).setHeader('Connection', 'Upgrade');
      const { body } = resolveError(refusal);
      res.status(body.statusCode).json(body);
    });
  }

  http.use('/ui', (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', UI_CSP);
    next();
  });
  // What the page cannot know by itself: whether to offer the seeded LOCAL accounts.
  // And the modules it needs that this server runs without (MODULES), so it says so up front.
  const missing = PAGE_MODULES.filter((m) => !config.isEnabled(m));
  http.get('/ui/config.json', (_req: Request, res: Response) => {
    res.json({ appEnv: config.appEnv, seedUsers: config.isLocal && config.isEnabled('seeding'), missingModules: missing });
  });
  if (existsSync(PUBLIC_DIR)) http.use('/ui', express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  http.get('/', (_req: Request, res: Response) => res.redirect(302, '/ui/'));

  http.use('/api/docs', (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    next();
  });
  setupSwagger(app);
  return app;
}

function setupSwagger(app: NestExpressApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Parley')
      .setDescription(API_DESCRIPTION)
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
  documentErrors(document);
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/docs-json',
    customSiteTitle: 'Parley API',
    swaggerOptions: { persistAuthorization: true },
  });
}

/**
 * A JSON body whose Content-Length is over the limit is refused at once, 413, and the connection
 * closed after the answer: the parser would first read it all (or wait, for as long as the client
 * keeps the connection, for bytes it never sends), only to refuse it then.
 */
function refuseDeclaredOversize(limit: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.headers['content-length']);
    if (!(declared > limit) || !req.is('application/json')) return next();
    res.setHeader('Connection', 'close');
    next(Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413, limit }));
  };
}

/** The start was asked to stop (SIGTERM, SIGINT) before it was up; what it had opened is closed. */
export class StartInterrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} received while starting; stopped.`);
  }
}

/**
 * Keeps SIGTERM and SIGINT from killing the process while the app is being made and started, so
 * that what is opening (the embedded database, whose lock a kill would leave behind; the seed) is
 * closed in order once it is open. A second signal meanwhile stops at once, as it would have.
 * Should the start fail anyway, that failure is what is reported (exit 1), not the signal.
 */
function holdStopSignals(signals: NodeJS.EventEmitter, logger: AppLogger): { received?: NodeJS.Signals; release(): void } {
  const held: { received?: NodeJS.Signals; release(): void } = {
    release: () => {
      for (const name of STOP_SIGNALS) signals.off(name, onSignal);
    },
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (held.received) {
      held.release();
      if (signals === process) process.kill(process.pid, signal);
      return;
    }
    held.received = signal;
    logger.warn(`${signal} received while starting: stopping once what is opening is open (again to stop at once)`, 'Parley');
  }
  for (const name of STOP_SIGNALS) signals.on(name, onSignal);
  return held;
}

/**
 * The signals that stop the server, gracefully. Not Nest's whole list: SIGUSR2 is how a heap
 * snapshot is asked for (`node --heapsnapshot-signal=SIGUSR2`), and SIGQUIT, SIGABRT and the
 * fault signals keep their own meaning.
 */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
