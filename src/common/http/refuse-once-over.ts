import type { Request, Response } from 'express';
import { resolveError } from '../errors/error-body.js';

/**
 * Counts `req`'s body as it arrives; past `limit` bytes answers with the error `refusal` makes (413,
 * `Connection: close`, so the connection ends once it is written), unless an answer has begun.
 * The answer goes out at once; whoever reads the body learns of it when the connection has ended.
 */
export function refuseOnceOver(limit: number, req: Request, res: Response, refusal: () => unknown): void {
  let received = 0;
  const count = (chunk: Buffer): void => {
    received += chunk.length;
    if (received <= limit) return;
    req.off('data', count);
    if (res.headersSent) return;
    const { body } = resolveError(refusal());
    res.setHeader('Connection', 'close');
    res.status(body.statusCode).json(body);
  };
  req.on('data', count);
}
