import type { NextFunction, Request, Response } from 'express';
import type { LoggerService } from '@nestjs/common';
import { requestIdFrom, runWithRequestId } from './request-context.js';

declare module 'express' {
  interface Request {
    id?: string;
  }
}

/**
 * Gives every request an id (X-Request-Id in and out), runs the rest of the request inside it so
 * log lines carry it, and logs one line per finished request.
 */
export function requestIdMiddleware(logger: LoggerService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    req.id = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      runWithRequestId(requestId, () => {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const line = {
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          durationMs: Math.round(durationMs * 10) / 10,
        };
        if (res.statusCode >= 500) logger.error(line, undefined, 'HTTP');
        else logger.log(line, 'HTTP');
      });
    });
    runWithRequestId(requestId, next);
  };
}
