import { type ArgumentsHost, Catch, Logger, type WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { ForbiddenError, ValidationError } from '../common/errors/domain-error.js';
import { resolveError } from '../common/errors/error-body.js';
import { logFailure } from '../common/errors/outage-log.js';
import { errorMessage } from '../common/errors/error-message.js';
import { type Connection, connectionOf, type FrameContext } from './connection.js';

/**
 * Whatever a gateway handler throws becomes an `error` frame on that socket, in the REST error
 * shape, under the id of the frame that failed; the socket stays open. DomainErrors keep their
 * code and status; an outage (a store away or too slow) is answered SERVICE_UNAVAILABLE (503) and
 * logged as a throttled warning; anything else unexpected is logged with its stack and answered as
 * a bare 500.
 */
@Catch()
export class WsErrorFilter implements WsExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    answerFrameError(exception, connectionOf(host.switchToWs().getClient()), host.getArgByIndex<FrameContext | undefined>(2));
  }
}

const logger = new Logger('Errors');

/**
 * What WsErrorFilter does, for handlers that DirectHandlers calls without Nest's pipeline, and for
 * what the connection's own handling of a frame throws.
 */
export function answerFrameError(
  exception: unknown,
  connection: Connection | undefined,
  frame: { type?: string; id?: FrameContext['id'] } | undefined,
): void {
  const error = exception instanceof WsException ? fromWsException(exception) : exception;
  const { unexpected, outage } = resolveError(error);
  if (unexpected) {
    logFailure(logger, error, outage, {
      answered: `A ${frame?.type ?? 'WebSocket'} frame was answered SERVICE_UNAVAILABLE`,
      entry: {
        msg: 'Unhandled error in a WebSocket handler',
        frame: frame?.type,
        connectionId: connection?.id,
        error: errorMessage(error),
      },
    });
  }
  connection?.sendError(error, frame?.id);
}

/** Nest raises WsException itself when a guard refuses; other uses should throw DomainErrors. */
function fromWsException(exception: WsException): Error {
  const message = exception.message;
  return message === 'Forbidden resource'
    ? new ForbiddenError('FORBIDDEN', 'Not allowed.')
    : new ValidationError(message, undefined, 'BAD_REQUEST');
}
