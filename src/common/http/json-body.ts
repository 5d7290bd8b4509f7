import { isUtf8 } from 'node:buffer';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { INVALID_UTF8, resolveError, unreadableBody } from '../errors/error-body.js';
import { API_PREFIX } from './route-prefix.js';
import { refuseOnceOver } from './refuse-once-over.js';

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
    next(tooLarge(limit));
  };
}

/**
 * A body sent without a Content-Length (chunked) is counted as it arrives, and refused the moment
 * it passes the limit, 413, with the connection closed after the answer. The parser refuses it at
 * the limit too, but answers only once the client has sent the rest (body-parser reads a refused
 * body to its end), which a client can stretch out for as long as the request timeout lets it.
 * Counted beside the parser, once it reads (its reading is what sets `readableFlowing`): sign-out
 * leaves such a body aside instead (as above). A compressed body is counted as it comes too: one
 * larger than the limit before it is inflated is no JSON body anyone means to send.
 */
function refuseOversizeAsItArrives(limit: number, parser: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    parser(req, res, next);
    const counted = req.headers['content-length'] === undefined && req.readableFlowing === true && !ignoresUnreadableBody(req);
    if (counted) refuseOnceOver(limit, req, res, () => tooLarge(limit));
  };
}

/** body-parser's refusal of a body over the limit, as its own would read. */
function tooLarge(limit: number): Error {
  return Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413, limit });
}

/**
 * The JSON body parser with what it needs around it: an oversized body refused before it is read
 * (or as it arrives, when its length is not declared), UTF-8 only, and its errors answered in the
 * contract's shape (they never reach Nest's filters).
 */
export function jsonBodyParsing(limit: number): Array<RequestHandler | express.ErrorRequestHandler> {
  return [
    refuseDeclaredOversize(limit),
    refuseOversizeAsItArrives(limit, express.json({ limit, verify: refuseInvalidUtf8 })),
    (error: unknown, req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(error);
      if (isBodyError(error) && ignoresUnreadableBody(req)) {
        req.body = undefined;
        return next();
      }
      const resolved = resolveError(error);
      const body = resolved.unexpected ? (unreadableBody(error) ?? resolved.body) : resolved.body;
      res.status(body.statusCode).json(body);
    },
  ];
}
