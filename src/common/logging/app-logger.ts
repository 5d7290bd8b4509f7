import type { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';
import type { LogFormat, LogLevel } from '../../config/app-config.js';
import { SetupError, failureText } from '../errors/setup-error.js';
import { asServed } from '../http/route-prefix.js';

const ORDER: Record<LogLevel | 'fatal', number> = { fatal: 0, error: 1, warn: 2, log: 3, debug: 4, verbose: 5 };
const COLOURS: Record<string, string> = {
  fatal: '\x1b[35m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  log: '\x1b[32m',
  debug: '\x1b[36m',
  verbose: '\x1b[90m',
};

/**
 * A library's line that Parley says better itself right after. @nestjs/mongoose logs "Unable to
 * connect to the database." with the driver's stack (retryAttempts 0: once) before the start fails
 * with the error mongo-connection.ts makes of it, which names MONGODB_URI and the fix.
 */
function supersededByParley(context: string | undefined, message: unknown): boolean {
  return context === 'MongooseModule' && typeof message === 'string' && message.startsWith('Unable to connect to the database.');
}

/**
 * Nest's start-up narration: a line per module, route and gateway handler (some 60 on every start)
 * ahead of the one that says the server is up. Written at debug: `LOG_LEVEL=debug` shows them, and
 * the routes are all in the API docs.
 */
const NARRATION = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController', 'NestFactory', 'NestApplication']);

/**
 * Structured logs: one JSON object per line (LOG_FORMAT=json, the default outside LOCAL), or the
 * same fields on one readable line. Every line carries the request id when there is one.
 */
export class AppLogger implements LoggerService {
  constructor(
    private readonly level: LogLevel = 'log',
    private readonly format: LogFormat = 'json',
    private readonly out: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
  /** A log line written whatever LOG_LEVEL says: the one that says the server is up, and where. */
  announce(message: string, context: string): void {
    this.write('log', message, [context], true);
  }
  setLogLevels?(_levels: NestLogLevel[]): void {}

  private write(level: LogLevel | 'fatal', message: unknown, rest: unknown[], always = false): void {
    // Nest passes (message, context) or, for errors, (message, stack, context).
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    if (level === 'log' && context !== undefined && NARRATION.has(context)) level = 'debug';
    if (!always && ORDER[level] > ORDER[this.level]) return;
    if (supersededByParley(context, message)) return;
    if ((context === 'RoutesResolver' || context === 'RouterExplorer') && typeof message === 'string') message = asServed(message);
    // Nest's ExceptionHandler logs a failed start, and main.ts (or the CLI) then prints the same
    // sentence on stderr as the process ends: on a terminal (pretty) once is enough. JSON lines keep
    // it, for collectors that read only stdout.
    if (this.format === 'pretty' && context === 'ExceptionHandler' && message instanceof SetupError) return;
    const stack = rest.find((r) => typeof r === 'string') as string | undefined;
    const error = rest.find((r): r is Error => r instanceof Error) ?? (message instanceof Error ? message : undefined);
    const fields: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      ...(context ? { context } : {}),
    };
    if (message instanceof Error) fields.msg = message.message;
    else if (typeof message === 'object' && message !== null) Object.assign(fields, message);
    else fields.msg = String(message);
    // A SetupError's sentence is the whole story (the start's own failures): no stack under it.
    // Any other error's stack comes with its causes'.
    if (error instanceof SetupError) delete fields.stack;
    else if (error) fields.stack = failureText(error);
    else if (stack) fields.stack = stack;

    if (this.format === 'json') {
      this.out(JSON.stringify(fields));
      return;
    }
    const { time, level: l, context: c, requestId, msg, stack: s, ...extra } = fields;
    const tail = Object.keys(extra).length > 0 ? ' ' + JSON.stringify(extra) : '';
    const rid = requestId ? ` [${String(requestId)}]` : ''; // whole: what a client quotes from X-Request-Id is grepped for
    const colour = process.stdout.isTTY ? COLOURS[level] : '';
    const reset = colour ? '\x1b[0m' : '';
    this.out(
      `${String(time)} ${colour}${String(l).toUpperCase().padEnd(5)}${reset} ${c ? `[${String(c)}]` : ''}${rid} ${msg === undefined ? '' : String(msg)}${tail}${s ? '\n' + String(s) : ''}`,
    );
  }
}
