import type { NextFunction, Request, Response } from 'express';
import type { LoggerService } from '@nestjs/common';
import { requestIdFrom } from '../request-context/request-context.js';

declare module 'express' {
  interface Request {
    id?: string;
  }
}

/**
 * Error codes of a 503 that is no bug of this server's: one it answers by its configuration
 * (mail with notify switched off), or for a store away or too slow (outage-log.ts says so, once
 * per 10 s; an error line per request would bury the real errors).
 */
const NOT_A_FAILURE_HERE = new Set(['MAIL_DISABLED', 'SERVICE_UNAVAILABLE', 'STORAGE_UNAVAILABLE']);

/**
 * The chat page's and the API docs' files (a page load fetches several) and the health checks (a
 * probe every few seconds): a line each would bury the API's own lines. Logged at debug while they
 * succeed.
 */
function isQuietPath(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && /^\/(ui|api\/docs|health)(\/|$)/i.test(path);
}

/** nginx's status for a request whose client closed the connection before the answer. */
const CLIENT_CLOSED = 499;

/**
 * Gives each request an id and writes its access line: the id is X-Request-Id in and out, and
 * `req.id` for whoever logs about the request; the line, one per finished request, carries it.
 *
 * The id travels with the request object, not in an AsyncLocalStorage: on Node 20 one of those,
 * once used, turns on a hook for every promise the process makes, WebSocket traffic included,
 * which costs CPU, garbage collection and p99 (docs/bench.md).
 */
export function accessLogMiddleware(logger: LoggerService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    req.id = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    // A request the client gave up on (it hung up before the answer) is logged too, as 499.
    const logLine = () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const userId = (req as Request & { user?: { userId?: string } }).user?.userId;
      const code = res.locals?.errorCode as string | undefined;
      const line = Object.assign(
        {
          requestId,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.writableFinished ? res.statusCode : CLIENT_CLOSED,
          durationMs: Math.round(durationMs * 10) / 10,
          ip: req.ip,
        },
        userId ? { userId } : {},
        code && res.statusCode >= 400 ? { code } : {},
      );
      // A 503 from the readiness check is its answer, not a failure: the Health line says what is
      // down. Nor is one for configuration or an outage (above): anyone could otherwise write ERROR
      // lines at will, or an outage one per request.
      if (line.status === 503 && (line.path.toLowerCase() === '/health/ready' || NOT_A_FAILURE_HERE.has(String(res.locals?.errorCode))))
        logger.warn(line, 'HTTP');
      else if (line.status >= 500) logger.error(line, undefined, 'HTTP');
      else if (line.status < 400 && isQuietPath(req.method, line.path)) logger.debug?.(line, 'HTTP');
      else logger.log(line, 'HTTP');
    };
    res.on('close', logLine);
    next();
  };
}
