import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import type { AuthUser } from '../common/auth/auth-user.js';
import { UnauthenticatedError } from '../common/errors/domain-error.js';
import { type Connection, connectionOf, type FrameContext } from './connection.js';
import { WS_PATH } from './realtime-settings.js';
import { WsErrorFilter } from './ws-error.filter.js';

/** Metadata on every @RealtimeGateway() class. */
export const REALTIME_GATEWAY = 'parley:realtime-gateway';

/**
 * Marks a class as a gateway on Parley's one `/ws` endpoint: its `@SubscribeMessage(type)`
 * methods receive the frames of that `type` from authenticated sockets, and what they throw
 * comes back as `error` frames. Handlers get the frame without `type` and `id` as the message
 * body (validated by DTO like a REST body); what they return is sent back with the frame's `id`.
 */
export function RealtimeGateway(): ClassDecorator {
  const decorate = applyDecorators(
    WebSocketGateway({ path: WS_PATH }),
    UseFilters(new WsErrorFilter()),
    SetMetadata(REALTIME_GATEWAY, true),
  );
  return (target) => {
    const prototype = (target as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const hook of ['handleConnection', 'handleDisconnect']) {
      if (typeof prototype[hook] === 'function') {
        throw new Error(
          `${target.name}.${hook}: Parley's gateways do not get Nest's connection hooks (the ConnectionManager owns each socket's life, and keeping a hook per gateway per socket costs memory on every connection). Socket lifecycle stays in ConnectionManager; features learn of presence through PresenceAudience/LastSeenRecorder.`,
        );
      }
    }
    decorate(target);
  };
}

/** The caller of a frame: user, session and the connection the frame came on. */
export interface SocketUser extends AuthUser {
  connectionId: string;
}

/** The caller of a frame on `connection` (frames only reach handlers once authenticated). */
export function socketUserOf(connection: Connection | undefined): SocketUser {
  if (!connection?.userId || !connection.sessionId) throw new UnauthenticatedError();
  return { userId: connection.userId, sessionId: connection.sessionId, connectionId: connection.id };
}

/** What @CurrentSocketUser() runs (DirectHandlers recognises the decorator by this function). */
export function socketUserParam(_data: unknown, ctx: ExecutionContext): SocketUser {
  return socketUserOf(connectionOf(ctx.switchToWs().getClient()));
}

/** What @CurrentFrame() runs (DirectHandlers recognises the decorator by this function). */
export function frameContextParam(_data: unknown, ctx: ExecutionContext): FrameContext {
  return ctx.getArgByIndex<FrameContext>(2);
}

/** Injects the SocketUser into a gateway handler. */
export const CurrentSocketUser = createParamDecorator(socketUserParam);

/** Injects the FrameContext of the frame being handled (its type, id, connection and admitNext). */
export const CurrentFrame = createParamDecorator(frameContextParam);
