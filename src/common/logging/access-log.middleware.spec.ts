import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { accessLogMiddleware } from './access-log.middleware.js';

/** A logger that keeps what it was given. */
function recordingLogger() {
  const lines: Array<{ level: string; message: unknown; rest: unknown[] }> = [];
  const logger: LoggerService = {
    log: (message, ...rest) => void lines.push({ level: 'log', message, rest }),
    error: (message, ...rest) => void lines.push({ level: 'error', message, rest }),
    warn: (message, ...rest) => void lines.push({ level: 'warn', message, rest }),
    debug: (message, ...rest) => void lines.push({ level: 'debug', message, rest }),
  };
  return { logger, lines };
}

function fakeExchange(headers: Record<string, string> = {}) {
  const req = { headers, method: 'GET', originalUrl: '/chats?limit=5' } as unknown as Request;
  const res = Object.assign(new EventEmitter(), {
    statusCode: 200,
    writableFinished: true,
    locals: {} as Record<string, unknown>,
    headers: {} as Record<string, string>,
    setHeader(name: string, value: string) {
      this.headers[name.toLowerCase()] = value;
    },
  });
  return { req, res: res as unknown as Response & { headers: Record<string, string> } };
}

describe('accessLogMiddleware', () => {
  it('keeps a well-formed id, sets it on the request and the response, and logs the finished request with it', () => {
    const { logger, lines } = recordingLogger();
    const { req, res } = fakeExchange({ 'x-request-id': 'trace-abc.123' });
    let nextCalls = 0;
    accessLogMiddleware(logger)(req, res, (() => nextCalls++) as NextFunction);
    expect(nextCalls).toBe(1);
    expect(req.id).toBe('trace-abc.123');
    expect(res.headers['x-request-id']).toBe('trace-abc.123');
    expect(lines).toEqual([]);

    res.statusCode = 503;
    res.emit('close');
    expect(lines).toEqual([
      {
        level: 'error',
        message: { requestId: 'trace-abc.123', method: 'GET', path: '/chats', status: 503, durationMs: expect.any(Number) },
        rest: [undefined, 'HTTP'],
      },
    ]);
  });

  it('logs the readiness check answering 503 as a warning, not an error: it is the answer, not a failure', () => {
    const { logger, lines } = recordingLogger();
    const { req, res } = fakeExchange();
    Object.assign(req, { originalUrl: '/health/ready' });
    accessLogMiddleware(logger)(req, res, (() => undefined) as NextFunction);
    res.statusCode = 503;
    res.emit('close');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.objectContaining({ path: '/health/ready', status: 503 }) }),
    ]);
  });

  /** The level of the line a request answered so is logged at. */
  const levelOf = (method: string, url: string, status: number, errorCode?: string) => {
    const { logger, lines } = recordingLogger();
    const { req, res } = fakeExchange();
    Object.assign(req, { method, originalUrl: url });
    accessLogMiddleware(logger)(req, res, (() => undefined) as NextFunction);
    res.statusCode = status;
    if (errorCode) res.locals.errorCode = errorCode;
    res.emit('close');
    return lines[0].level;
  };

  it("logs the chat page's and the docs' files at debug while they succeed, the API's requests and failures as before", () => {
    expect(levelOf('GET', '/ui/app.js?v=1', 200)).toBe('debug');
    expect(levelOf('HEAD', '/ui', 304)).toBe('debug');
    expect(levelOf('GET', '/api/docs/swagger-ui.css', 200)).toBe('debug');
    expect(levelOf('GET', '/api/docs-json', 200)).toBe('log');
    expect(levelOf('GET', '/ui/missing.js', 404)).toBe('log');
    expect(levelOf('POST', '/ui/config.json', 405)).toBe('log');
    expect(levelOf('GET', '/api/v1/users/me', 200)).toBe('log');
    expect(levelOf('GET', '/uix', 200)).toBe('log');
    expect(levelOf('GET', '/health', 200)).toBe('debug');
    expect(levelOf('GET', '/health/ready', 200)).toBe('debug');
    expect(levelOf('GET', '/health/ready', 503)).toBe('warn');
    expect(levelOf('GET', '/api/v1/chats', 500)).toBe('error');
  });

  it('logs a 503 for an outage (SERVICE_UNAVAILABLE, STORAGE_UNAVAILABLE) as a warning: the outage is told once per 10 s, not as an error per request', () => {
    for (const code of ['SERVICE_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'SOMETHING_ELSE'])
      expect([code, levelOf('GET', '/chats', 503, code)]).toEqual([code, code === 'SOMETHING_ELSE' ? 'error' : 'warn']);
  });

  it("says who asked, from where, and a refusal's code; a request its client hung up on is logged too, as 499", () => {
    const { logger, lines } = recordingLogger();
    const { req, res } = fakeExchange();
    Object.assign(req, { ip: '203.0.113.7', user: { userId: 'u-1', sessionId: 's-1' } });
    accessLogMiddleware(logger)(req, res, (() => undefined) as NextFunction);
    res.statusCode = 401;
    res.locals.errorCode = 'TOKEN_EXPIRED';
    res.emit('close');
    expect(lines[0].message).toMatchObject({ status: 401, ip: '203.0.113.7', userId: 'u-1', code: 'TOKEN_EXPIRED' });

    const gone = fakeExchange();
    accessLogMiddleware(logger)(gone.req, gone.res, (() => undefined) as NextFunction);
    Object.assign(gone.res, { writableFinished: false });
    gone.res.emit('close');
    expect(lines[1]).toMatchObject({ level: 'log', message: { status: 499 } });
    expect(lines[1].message).not.toHaveProperty('code');
  });

  it('makes an id when the one sent is malformed', () => {
    const { logger, lines } = recordingLogger();
    const { req, res } = fakeExchange({ 'x-request-id': 'bad id with spaces' });
    accessLogMiddleware(logger)(req, res, (() => undefined) as NextFunction);
    expect(req.id).toMatch(/^[0-9a-f-]{36}$/);
    res.emit('close');
    expect(lines[0]).toMatchObject({ level: 'log', message: { requestId: req.id, status: 200 } });
  });

  it('runs the request in no AsyncLocalStorage (on Node 20 one would hook every promise of the process)', () => {
    const run = jest.spyOn(AsyncLocalStorage.prototype, 'run');
    const enterWith = jest.spyOn(AsyncLocalStorage.prototype, 'enterWith');
    try {
      const { logger } = recordingLogger();
      const { req, res } = fakeExchange();
      accessLogMiddleware(logger)(req, res, (() => undefined) as NextFunction);
      res.emit('close');
      expect(run).not.toHaveBeenCalled();
      expect(enterWith).not.toHaveBeenCalled();
    } finally {
      run.mockRestore();
      enterWith.mockRestore();
    }
  });
});
