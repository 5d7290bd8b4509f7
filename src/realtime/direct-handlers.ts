import { Injectable, Logger, type OnApplicationBootstrap, type PipeTransform, type Type, ValidationPipe } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  PARAMTYPES_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants.js';
import { ApplicationConfig, DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { GATEWAY_METADATA, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { DEFAULT_CALLBACK_METADATA } from '@nestjs/websockets/context/ws-metadata-constants.js';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { isHttpOnlyGuard } from '../common/auth/http-only-guard.js';
import type { Connection, FrameContext } from './connection.js';
import { frameContextParam, REALTIME_GATEWAY, socketUserOf, socketUserParam } from './realtime-gateway.decorator.js';
import { WsErrorFilter } from './ws-error.filter.js';

/** A gateway handler called without Nest's per-call machinery: the same arguments, validation and result. */
export type DirectHandler = (connection: Connection, payload: Record<string, unknown>, frame: FrameContext) => Promise<unknown>;

/** A gateway handler method. */
type Method = (...args: unknown[]) => unknown;

/** How one handler parameter is filled. */
type ParamSource = { kind: 'body'; metatype: unknown } | { kind: 'socket' } | { kind: 'user' } | { kind: 'frame' } | { kind: 'nothing' };

/**
 * Nest calls a gateway handler through a generic pipeline on every frame: guards, interceptors,
 * every param through every pipe, the exception filter, each step its own promise. For a
 * `@RealtimeGateway()` handler that uses none of that, it amounts to "validate the body, call
 * the method", and on the hottest path (`send_message`, thousands a second) the pipeline cost
 * more CPU than the handler and made most of the garbage. So handlers that use only what
 * Parley's gateways use are called directly, with the same result:
 *
 * - parameters: `@MessageBody()` (whole body, no pipes of its own), `@ConnectedSocket()`,
 *   `@CurrentSocketUser()`, `@CurrentFrame()`, or none decorated (Nest's default: socket, body);
 * - the body goes through the global pipes, in order, as Nest would (those must be Nest
 *   ValidationPipes, which leave the other parameters alone);
 * - errors are answered as WsErrorFilter answers them (the one filter @RealtimeGateway adds).
 *
 * Anything else keeps Nest's pipeline, handler by handler: a guard, interceptor, pipe or filter
 * on the gateway or the method, another parameter decorator, a request-scoped gateway, a global
 * guard not marked @HttpOnlyGuard(), a global interceptor or non-validation pipe, or a frame type
 * two gateways both handle.
 */
@Injectable()
export class DirectHandlers implements OnApplicationBootstrap {
  private readonly logger = new Logger('Realtime');
  private readonly handlers = new Map<string, DirectHandler>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly config: ApplicationConfig,
  ) {}

  /** The direct handler of a frame type, if it has one. */
  get(type: string): DirectHandler | undefined {
    return this.handlers.get(type);
  }

  onApplicationBootstrap(): void {
    const globalPipes = this.config.getGlobalPipes();
    const globalsInTheWay = this.globalsInTheWay(globalPipes);
    const candidates = new Map<string, Array<DirectHandler | string>>();
    for (const wrapper of this.discovery.getProviders()) {
      const gateway = gatewayOf(wrapper);
      if (!gateway) continue;
      const prototype = Object.getPrototypeOf(gateway) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const callback = (prototype as Record<string, Method>)[method];
        if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, callback)) continue;
        const type = String(Reflect.getMetadata(MESSAGE_METADATA, callback));
        const refusal =
          (Reflect.getMetadata(REALTIME_GATEWAY, gateway.constructor) ? undefined : 'a gateway not made with @RealtimeGateway()') ??
          globalsInTheWay ??
          (wrapper.isDependencyTreeStatic() ? undefined : 'request-scoped gateway') ??
          enhancersInTheWay(gateway.constructor, callback);
        const sources = refusal ?? paramSources(gateway, method, callback);
        const list = candidates.get(type) ?? [];
        list.push(typeof sources === 'string' ? sources : directHandler(gateway, callback, sources, globalPipes));
        candidates.set(type, list);
      }
    }
    const viaNest: string[] = [];
    for (const [type, list] of candidates) {
      const only = list.length === 1 ? list[0] : `handled by ${list.length} gateways`;
      if (typeof only === 'string') viaNest.push(`${type} (${only})`);
      else this.handlers.set(type, only);
    }
    this.logger.debug(
      `WebSocket frames called directly: ${[...this.handlers.keys()].join(', ') || 'none'}; through Nest's pipeline: ${viaNest.join(', ') || 'none'}.`,
    );
  }

  private globalsInTheWay(globalPipes: PipeTransform[]): string | undefined {
    const c = this.config;
    const guards = [
      ...c.getGlobalGuards().map((guard) => guard.constructor),
      ...c.getGlobalRequestGuards().map((wrapper) => wrapper.metatype),
    ];
    if (!guards.every(isHttpOnlyGuard)) return 'a global guard not marked @HttpOnlyGuard()';
    if (c.getGlobalInterceptors().length > 0 || c.getGlobalRequestInterceptors().length > 0) return 'a global interceptor';
    if (c.getGlobalRequestPipes().length > 0) return 'a global pipe provider';
    // A ValidationPipe only looks at parameters whose type is a class: of the parameters a
    // direct handler takes, only the body (the others are custom, which it skips unless told
    // otherwise, or the socket, typed as an interface).
    if (!globalPipes.every((pipe) => pipe instanceof ValidationPipe && !validatesCustomDecorators(pipe)))
      return 'a global pipe other than a ValidationPipe';
    return undefined;
  }
}

/** Any WebSocket gateway: one not made with @RealtimeGateway() still counts for frame types handled twice. */
function gatewayOf(wrapper: InstanceWrapper): object | undefined {
  const { instance, metatype } = wrapper;
  if (!instance || typeof instance !== 'object' || !metatype) return undefined;
  return Reflect.getMetadata(GATEWAY_METADATA, instance.constructor) ? instance : undefined;
}

function enhancersInTheWay(gatewayType: object, callback: Method): string | undefined {
  for (const [key, what] of [
    [GUARDS_METADATA, 'a guard'],
    [INTERCEPTORS_METADATA, 'an interceptor'],
    [PIPES_METADATA, 'a pipe'],
  ] as const) {
    if (hasAny(Reflect.getMetadata(key, gatewayType)) || hasAny(Reflect.getMetadata(key, callback))) return what;
  }
  if (hasAny(Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, callback))) return 'an exception filter';
  const classFilters = (Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, gatewayType) ?? []) as unknown[];
  if (classFilters.length !== 1 || !(classFilters[0] instanceof WsErrorFilter)) return 'an exception filter';
  return undefined;
}

function hasAny(list: unknown): boolean {
  return Array.isArray(list) && list.length > 0;
}

interface ArgMetadata {
  index: number;
  data?: unknown;
  pipes?: unknown[];
  factory?: unknown;
}

/** How to fill each parameter, or why the handler needs Nest's pipeline. */
function paramSources(gateway: object, method: string, callback: Method): ParamSource[] | string {
  // Without parameter decorators Nest assumes (socket, body, ack): see ws-metadata-constants.
  const metadata = (Reflect.getMetadata(ROUTE_ARGS_METADATA, gateway.constructor, method) ?? DEFAULT_CALLBACK_METADATA) as Record<
    string,
    ArgMetadata
  >;
  const paramtypes = (Reflect.getMetadata(PARAMTYPES_METADATA, gateway, method) ?? []) as unknown[];
  const sources: ParamSource[] = [];
  for (const [key, arg] of Object.entries(metadata)) {
    if (arg.data !== undefined || hasAny(arg.pipes)) return 'a parameter with data or pipes';
    let source: ParamSource | undefined;
    if (key.includes(CUSTOM_ROUTE_ARGS_METADATA)) {
      if (arg.factory === socketUserParam) source = { kind: 'user' };
      else if (arg.factory === frameContextParam) source = { kind: 'frame' };
    } else {
      const type = Number(key.split(':')[0]);
      if (type === WsParamtype.PAYLOAD) source = { kind: 'body', metatype: paramtypes[arg.index] };
      // Nest's ack is the first argument that is a function: a frame's never has one.
      else if (type === WsParamtype.ACK) source = { kind: 'nothing' };
      else if (type === WsParamtype.SOCKET) {
        // Typed as a class (an imported WebSocket is emitted as Function), the global pipes would see it.
        if (!isPlainType(paramtypes[arg.index])) return 'a ConnectedSocket parameter with a class type, which the global pipes see';
        source = { kind: 'socket' };
      }
    }
    if (!source) return 'a parameter decorator other than MessageBody, ConnectedSocket, CurrentSocketUser or CurrentFrame';
    sources[arg.index] = source;
  }
  // Beside decorated ones, Nest passes undefined for an undecorated parameter; rather than copy
  // that, such a handler keeps Nest's pipeline.
  for (let i = 0; i < sources.length; i++) if (!sources[i]) return 'an undecorated parameter beside decorated ones';
  if (sources.length > 0 && callback.length > sources.length) return 'an undecorated parameter beside decorated ones';
  return sources;
}

/** Object (an interface or `import type`) or nothing: what a ValidationPipe would not look at. */
function isPlainType(metatype: unknown): boolean {
  return metatype === undefined || metatype === Object;
}

function validatesCustomDecorators(pipe: ValidationPipe): boolean {
  return (pipe as unknown as { validateCustomDecorators?: boolean }).validateCustomDecorators === true;
}

function directHandler(gateway: object, callback: Method, sources: ParamSource[], globalPipes: PipeTransform[]): DirectHandler {
  return async (connection, payload, frame) => {
    const args: unknown[] = new Array(sources.length);
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i];
      switch (source.kind) {
        case 'body': {
          // As a 'body' parameter, like a REST body (Nest says 3, WsParamtype.PAYLOAD, which a
          // ValidationPipe treats the same); that lets the pipe's fast path (fast-accept.ts) apply.
          let value: unknown = payload;
          for (const pipe of globalPipes) value = await pipe.transform(value, { type: 'body', metatype: source.metatype as Type });
          args[i] = value;
          break;
        }
        case 'socket':
          args[i] = connection.socket;
          break;
        case 'user':
          args[i] = socketUserOf(connection);
          break;
        case 'frame':
          args[i] = frame;
          break;
        case 'nothing':
          break;
      }
    }
    return callback.apply(gateway, args);
  };
}
