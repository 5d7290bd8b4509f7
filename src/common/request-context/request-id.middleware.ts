import type { NextFunction, Request, Response } from 'express';
import type { LoggerService } from '@nestjs/common';
import { requestIdFrom } from './request-context.js';

declare module 'express' {
  interface Request {
    id?: string;
  }
}

/** Error codes of a 503 that this server answers by its configuration, not for a failure. */
const BY_CONFIGURATION = new Set(['MAIL_DISABLED']);

/**
 * The chat page's and the API docs' files: a page load fetches several, and a line each would bury
 * the API's own lines. Logged at debug while they succeed.
 */
function isStaticFile(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && /^\/(ui|api\/docs)(\/|$)/i.test(path);
}

/**
 * Gives every request an id (X-Request-Id in and out, and `req.id` for whoever logs about the
 * request), and logs one line per finished request, with that id.
 *
 * The id travels with the request object, not in an AsyncLocalStorage: on Node 20 one of those,
 * once used, turns on a hook for every promise the process makes, WebSocket traffic included.
 * With that hook, at the bench's 25% load: twice the bytes promoted to the old generation, ~60%
 * more time in garbage collection, ~8% more CPU, and a p99 1.5–2.6x as high (docs/bench.md).
 */
export function requestIdMiddleware(logger: LoggerService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    req.id = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        requestId,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
      };
      // A 503 from the readiness check is its answer, not a failure: the Health line says what is
      // down. Nor is one this server gives by its configuration (mail with notify switched off):
      // anyone could otherwise write ERROR lines at will.
      if (res.statusCode === 503 && (line.path.toLowerCase() === '/health/ready' || BY_CONFIGURATION.has(String(res.locals?.errorCode))))
        logger.warn(line, 'HTTP');
      else if (res.statusCode >= 500) logger.error(line, undefined, 'HTTP');
      else if (res.statusCode < 400 && isStaticFile(req.method, line.path)) logger.debug?.(line, 'HTTP');
      else logger.log(line, 'HTTP');
    });
    next();
  };
}
