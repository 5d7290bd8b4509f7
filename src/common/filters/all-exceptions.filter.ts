import { type ArgumentsHost, Catch, type ExceptionFilter, Logger, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { FeatureModuleName } from '../../config/modules.config.js';
import { resolveError } from '../errors/error-body.js';
import { errorMessage } from '../errors/error-message.js';
import { logFailure } from '../errors/outage-log.js';
import { isCatchAll, methodNotAllowed, pathOf } from '../http/allowed-methods.js';
import { switchedOffModule } from '../http/switched-off.js';

/** Every HTTP failure leaves in the contract's one error shape; unexpected ones are logged. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  /** `modules`: the ones this server runs (MODULES), to tell a switched-off module's path from a typo. */
  constructor(private readonly modules: ReadonlySet<FeatureModuleName>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const noRoute = exception instanceof NotFoundException && reachedNoRoute(request);
    const notAllowed = noRoute ? methodNotAllowed(request) : undefined;
    const switchedOff = noRoute && !notAllowed ? switchedOffModule(pathOf(request), this.modules) : undefined;
    const { body, retryAfterSeconds, unexpected, outage } = resolveError(notAllowed ?? switchedOff ?? exception);
    if (unexpected) {
      logFailure(this.logger, exception, outage, {
        answered: `${request.method} ${pathOf(request)} was answered 503`,
        entry: {
          msg: 'Unhandled error',
          requestId: request.id,
          method: request.method,
          path: request.originalUrl,
          error: errorMessage(exception),
        },
      });
    }
    if (response.headersSent) return;
    if (retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(retryAfterSeconds));
    if (notAllowed) response.setHeader('Allow', notAllowed.allowed.join(', '));
    // For the access line (access-log.middleware.ts), which tells a refusal by configuration from a failure.
    response.locals.errorCode = body.code;
    response.status(body.statusCode).json(body);
  }
}

/**
 * Nest's not-found handler is itself a route, for every method (see isCatchAll), so `req.route` is
 * that catch-all there; any other route means a handler took the request.
 */
function reachedNoRoute(request: Request): boolean {
  const route = (request as Request & { route?: { methods?: Record<string, boolean> } }).route;
  return !route || (route.methods !== undefined && isCatchAll(route.methods));
}
