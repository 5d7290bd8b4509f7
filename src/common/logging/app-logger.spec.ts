import { SetupError } from '../errors/setup-error.js';
import { AppLogger } from './app-logger.js';

describe('AppLogger', () => {
  const logged = (error: Error) => {
    const lines: string[] = [];
    new AppLogger('error', 'json', (line) => lines.push(line)).error(error); // as Nest's ExceptionHandler logs
    return JSON.parse(lines[0]) as { msg: string; stack?: string };
  };

  it('logs a SetupError as its sentence alone: the start failure says what to fix, a stack would bury it', () => {
    const line = logged(new SetupError('DATABASE_URL is unreachable: … Start PostgreSQL there.'));
    expect(line.msg).toBe('DATABASE_URL is unreachable: … Start PostgreSQL there.');
    expect(line).not.toHaveProperty('stack');
  });

  it('leaves a failed start to the one line main.ts prints on a terminal (pretty), and keeps it in JSON lines', () => {
    const lines = (format: 'json' | 'pretty') => {
      const out: string[] = [];
      const logger = new AppLogger('error', format, (line) => out.push(line));
      logger.error(new SetupError('DATABASE_URL is unreachable: …'), 'ExceptionHandler'); // as Nest's ExceptionHandler logs
      logger.error(new Error('a bug'), 'ExceptionHandler');
      logger.error(new SetupError('said elsewhere'), 'Other');
      return out;
    };
    expect(lines('json')).toHaveLength(3);
    expect(lines('pretty')).toEqual([expect.stringContaining('a bug'), expect.stringContaining('said elsewhere')]);
  });

  it('writes the whole request id on a pretty line, as a client quotes it from X-Request-Id', () => {
    const out: string[] = [];
    new AppLogger('log', 'pretty', (line) => out.push(line)).log(
      { msg: 'GET /api/v1/users/me 200', requestId: 'my-req-123456789' },
      'HTTP',
    );
    expect(out).toEqual([expect.stringContaining('[HTTP] [my-req-123456789] GET /api/v1/users/me 200')]);
  });

  it("writes Nest's start-up narration (modules, routes, handlers) at debug, and the rest of its lines as they come", () => {
    const levels = (level: 'log' | 'debug') => {
      const out: string[] = [];
      const logger = new AppLogger(level, 'json', (line) => out.push(line));
      logger.log('AuthModule dependencies initialized', 'InstanceLoader');
      logger.log('Mapped {/api/v1/users/me, GET} route', 'RouterExplorer');
      logger.log('MessagesGateway subscribed to the "sync" message', 'WebSocketsController');
      logger.warn('a warning of Nest', 'RouterExplorer');
      logger.log('Applied 1795300000000', 'Migrations');
      return out.map((line) => (JSON.parse(line) as { level: string; context: string }).level);
    };
    expect(levels('log')).toEqual(['warn', 'log']);
    expect(levels('debug')).toEqual(['debug', 'debug', 'debug', 'warn', 'log']);
  });

  it('announces that the server is up whatever LOG_LEVEL says', () => {
    const out: string[] = [];
    const logger = new AppLogger('error', 'pretty', (line) => out.push(line));
    logger.log('not this', 'Parley');
    logger.announce('Parley is up (LOCAL) on port 3000', 'Parley');
    expect(out).toEqual([expect.stringMatching(/LOG +\[Parley\] Parley is up \(LOCAL\) on port 3000$/)]);
  });

  it("keeps the stack of any other error, a bug to find, and its cause's", () => {
    expect(logged(new Error('boom')).stack).toMatch(/^Error: boom\n\s+at /);
    const wrapped = new Error('DATABASE_URL could not be used: …', { cause: new Error('Entity metadata for X#y was not found') });
    expect(logged(wrapped).stack).toMatch(
      /^Error: DATABASE_URL could not be used[^]*\nCaused by: Error: Entity metadata for X#y was not found\n\s+at /,
    );
  });
});
