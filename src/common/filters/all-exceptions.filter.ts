import { type ArgumentsHost, Catch, type ExceptionFilter, Logger, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { MethodNotAllowedError } from '../errors/domain-error.js';
import { resolveError } from '../errors/error-body.js';
import { allowedMethods } from '../http/allowed-methods.js';

/** Every HTTP failure leaves in the contract's one error shape; unexpected ones are logged. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const notAllowed = methodNotAllowed(exception, request);
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
    response.status(body.statusCode).json(body);
  }
}

/**
 * No route took the request (Nest's not-found handler threw), but routes exist on its path under
 * other methods: 405 METHOD_NOT_ALLOWED with `Allow`, as HTTP asks, rather than a 404 that says the
 * path does not exist. `Allow` lists OPTIONS too: the CORS middleware answers it (204) on every
 * path. Route paths are public (the OpenAPI document lists them), so this tells nothing about any
 * resource.
 */
function methodNotAllowed(exception: unknown, request: Request): MethodNotAllowedError | undefined {
  if (!(exception instanceof NotFoundException) || !reachedNoRoute(request)) return undefined;
  const allowed = allowedMethods(request);
  if (allowed.length === 0 || allowed.includes(request.method)) return undefined;
  return new MethodNotAllowedError(request.method, [...allowed, 'OPTIONS']);
}

/**
 * Nest's not-found handler is itself a route, for every method (`router.all('*path')` in the prefix
 * router), so `req.route` is that catch-all there; any other route means a handler took the request.
 */
function reachedNoRoute(request: Request): boolean {
  const route = (request as Request & { route?: { methods?: Record<string, boolean> } }).route;
  return !route || route.methods?._all === true;
}
