import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Request } from 'express';
import { HttpOnlyGuard } from '../auth/http-only-guard.js';
import { ValidationError } from '../errors/domain-error.js';

/** A route's query DTO validates its own parameters (unknown ones included). */
const BY_DTO = 'dto';

/**
 * A query parameter a route does not take is refused, 400 VALIDATION_FAILED naming it, as an
 * unknown body field is: `?limt=10` is a mistake to hear about, not a parameter to ignore. A
 * route with a query DTO (`@Query() query: Dto`) leaves that to the DTO's validation, which
 * refuses unknown ones the same way; one with named parameters (`@Query('v')`) takes those; any
 * other takes none.
 */
@Injectable()
@HttpOnlyGuard()
export class QueryParamsGuard implements CanActivate {
  private readonly taken = new WeakMap<object, ReadonlySet<string> | typeof BY_DTO>();

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    const names = Object.keys(request.query ?? {});
    if (names.length === 0) return true;
    const takes = this.takenBy(context);
    if (takes === BY_DTO) return true;
    const unknown = names.filter((name) => !takes.has(name));
    if (unknown.length === 0) return true;
    const listed = unknown.map((name) => JSON.stringify(name)).join(', ');
    throw new ValidationError(
      takes.size === 0
        ? `${request.method} ${request.path} takes no query parameters; leave out ${listed}.`
        : `${request.method} ${request.path} takes only ${[...takes].join(', ')} as query parameters; leave out ${listed}.`,
      unknown.map((field) => ({ field, message: `property ${field} should not exist` })),
    );
  }

  /** Worked out once per handler from its parameters: a query DTO, or the names it reads. */
  private takenBy(context: ExecutionContext): ReadonlySet<string> | typeof BY_DTO {
    const handler = context.getHandler();
    let takes = this.taken.get(handler);
    if (takes === undefined) {
      // Nest keys a handler's parameters `${paramtype}:${index}`, each with the name it reads (data).
      const params = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<
        string,
        { data?: unknown }
      >;
      const queries = Object.entries(params)
        .filter(([key]) => key.split(':')[0] === String(RouteParamtypes.QUERY))
        .map(([, param]) => param.data);
      takes = queries.some((data) => data === undefined) ? BY_DTO : new Set(queries.filter((data) => typeof data === 'string'));
      this.taken.set(handler, takes);
    }
    return takes;
  }
}
