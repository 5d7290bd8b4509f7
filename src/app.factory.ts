import { NotFoundException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import type { Request, Response } from 'express';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { UpgradeRequiredError } from './common/errors/domain-error.js';
import { resolveError } from './common/errors/error-body.js';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter.js';
import { switchedOffModule } from './common/http/switched-off.js';
import { API_PREFIX, UNPREFIXED_PATHS } from './common/http/route-prefix.js';
import { methodNotAllowed, pathOf } from './common/http/allowed-methods.js';
import { answerClientErrorsInShape } from './common/http/client-errors.js';
import { cookieWritesFromAllowedOrigins, OriginPolicy, refusePreflightsFromOtherOrigins } from './common/http/origin-policy.js';
import { AppLogger } from './common/logging/app-logger.js';
import { createValidationPipe } from './common/pipes/validation.pipe.js';
import { accessLogMiddleware } from './common/logging/access-log.middleware.js';
import { closingOnFailure } from './common/startup-scope.js';
import { ACCESS_COOKIE, REFRESH_COOKIE } from './modules/auth/jwt.strategy.js';
import { RealtimeWsAdapter } from './realtime/realtime.ws-adapter.js';
import { WS_PATH } from './realtime/realtime-settings.js';
import { securityHeaders } from './common/http/security-headers.js';
import { jsonBodyParsing } from './common/http/json-body.js';
import { setupDocs } from './common/openapi/docs.js';
import { holdStopSignals, StartInterrupted, stopOnSignals } from './common/startup-signals.js';
import { serveChatPage } from './ui/chat-page.js';

/** Builds the whole application (HTTP, WebSocket, docs) without listening: main.ts and tests share it. */
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
  if (options.shutdownHooks) stopOnSignals(app, options.signals ?? process, logger);
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

  app.use(accessLogMiddleware(logger));
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
  for (const step of jsonBodyParsing(config.http.jsonBodyLimit)) app.use(step);

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

  serveChatPage(http, config);
  setupDocs(app);
  return app;
}
