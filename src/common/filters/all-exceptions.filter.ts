import { type ArgumentsHost, Catch, type ExceptionFilter, Logger, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { MethodNotAllowedError } from '../errors/domain-error.js';
import { resolveError } from '../errors/error-body.js';
import { isCatchAll, methodNotAllowed } from '../http/allowed-methods.js';

/** Every HTTP failure leaves in the contract's one error shape; unexpected ones are logged. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const notAllowed = notAllowedHere(exception, request);
    const { body, retryAfterSeconds, unexpected } = resolveError(notAllowed ?? exception);
    if (unexpected) {
      this.logger.error(
        { msg: 'Unhandled error', requestId: request.id, method: request.method, path: request.originalUrl, error: String(exception) },
        exception instanceof Error ? exception.stack : undefined,
      );
    }
    if (response.headersSent) return;
    if (retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(retryAfterSeconds));
    if (notAllowed) response.setHeader('Allow', notAllowed.allowed.join(', '));
    // For the access line (request-id.middleware.ts), which tells a refusal by configuration from a failure.
    response.locals.errorCode = body.code;
    response.status(body.statusCode).json(body);
  }
}

/** Nest's not-found handler threw, on a path that routes take under other methods: see methodNotAllowed. */
function notAllowedHere(exception: unknown, request: Request): MethodNotAllowedError | undefined {
  if (!(exception instanceof NotFoundException) || !reachedNoRoute(request)) return undefined;
  return methodNotAllowed(request);
}

/**
 * Nest's not-found handler is itself a route, for every method (see isCatchAll), so `req.route` is
 * that catch-all there; any other route means a handler took the request.
 */
function reachedNoRoute(request: Request): boolean {
  const route = (request as Request & { route?: { methods?: Record<string, boolean> } }).route;
  return !route || (route.methods !== undefined && isCatchAll(route.methods));
}
