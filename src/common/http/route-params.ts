import type { ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import type { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';

/** One parameter of a route handler, as its decorator (`@Body()`, `@Query('v')`, …) declared it. */
export interface RouteParam {
  type: RouteParamtypes;
  /** The name it reads (`@Query('v')`: 'v'), or undefined for the whole (a DTO). */
  data: unknown;
  /** The parameter's declared type (a DTO's class), when TypeScript recorded one. */
  metatype?: unknown;
}

/**
 * The parameters of the handler a request is routed to, worked out once per handler: what the
 * request checks (JsonBodyGuard, QueryParamsGuard) judge a request against.
 */
export class RouteParams<T> {
  private readonly cache = new WeakMap<object, T>();

  constructor(private readonly judge: (params: RouteParam[], handler: object, controller: object) => T) {}

  of(context: ExecutionContext): T {
    const handler = context.getHandler();
    let value = this.cache.get(handler);
    if (value === undefined) {
      // Nest keys a handler's parameters `${paramtype}:${index}`, each with the name it reads (data).
      const declared = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<
        string,
        { data?: unknown }
      >;
      const types = (Reflect.getMetadata('design:paramtypes', context.getClass().prototype as object, handler.name) ?? []) as unknown[];
      const params = Object.entries(declared).map(([key, param]) => {
        const [type, index] = key.split(':');
        return { type: Number(type) as RouteParamtypes, data: param.data, metatype: types[Number(index)] };
      });
      value = this.judge(params, handler, context.getClass());
      this.cache.set(handler, value);
    }
    return value;
  }
}
