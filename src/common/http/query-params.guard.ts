import { applyDecorators, type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ApiExtension } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import type { Request } from 'express';
import { HttpOnlyGuard } from '../auth/http-only-guard.js';
import { unknownFields, ValidationError } from '../errors/domain-error.js';
import { type RouteParam, RouteParams } from './route-params.js';

const ANY_QUERY = 'parley:anyQuery';
/** Tells the OpenAPI post-processing (common/openapi/error-responses.ts) the route refuses no query parameter. */
export const ANY_QUERY_EXTENSION = 'x-parley-any-query';

/**
 * Marks a controller or route that takes whatever query parameters come: health probes (a
 * monitor's cache-buster must not fail a liveness check), and sign-out (nothing may keep anyone
 * signed in).
 */
export const TakesAnyQuery = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(ANY_QUERY, true), ApiExtension(ANY_QUERY_EXTENSION, true)) as ClassDecorator & MethodDecorator;

/** The route takes any query parameter. */
const NOT_CHECKED = 'not checked';

/**
 * A query parameter a route does not take is refused, 400 VALIDATION_FAILED naming it, as an
 * unknown body field is: `?limt=10` is a mistake to hear about, not a parameter to ignore. A
 * route with a query DTO (`@Query() query: Dto`) takes the DTO's validated properties (their
 * values are the DTO's to judge); one with named parameters (`@Query('v')`) takes those; one
 * marked @TakesAnyQuery() takes any; any other takes none. The message names what the route
 * takes, which the DTO's own "property x should not exist" would not.
 *
 * Like JsonBodyGuard it runs before the authentication guard: a stray parameter is told (400)
 * before a missing token (401).
 */
@Injectable()
@HttpOnlyGuard()
export class QueryParamsGuard implements CanActivate {
  private readonly taken = new RouteParams<ReadonlySet<string> | typeof NOT_CHECKED>(takenBy);

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    const names = Object.keys(request.query ?? {});
    if (names.length === 0) return true;
    const takes = this.taken.of(context);
    if (takes === NOT_CHECKED) return true;
    refuseMalformedEncoding(request.url);
    const unknown = names.filter((name) => !takes.has(name));
    if (unknown.length === 0) return true;
    const { details, more } = unknownFields(unknown);
    const listed = details.map((d) => JSON.stringify(d.field)).join(', ') + more;
    throw new ValidationError(
      takes.size === 0
        ? `${request.method} ${request.path} takes no query parameters; leave out ${listed}.`
        : `${request.method} ${request.path} takes only ${[...takes].join(', ')} as query parameters; leave out ${listed}.`,
      details,
    );
  }
}

/**
 * A query with a broken percent-encoding (`?query=%E0%A4%A`, a lone surrogate's bytes) is refused
 * as such a path is (error-body.ts): Express's query parser would decode it leniently, into
 * U+FFFD or the text as written, and the route would answer a question that was never asked.
 */
function refuseMalformedEncoding(url: string): void {
  const query = url.slice(url.indexOf('?') + 1);
  for (const part of query.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      const shown = JSON.stringify(part.length > 64 ? `${part.slice(0, 64)}…` : part);
      throw new ValidationError(
        `The query holds a malformed percent-encoding (${shown}): each % must be followed by two hex digits, and the bytes must form UTF-8.`,
      );
    }
  }
}

function takenBy(params: RouteParam[], handler: object, controller: object): ReadonlySet<string> | typeof NOT_CHECKED {
  if (Reflect.getMetadata(ANY_QUERY, handler) === true || Reflect.getMetadata(ANY_QUERY, controller) === true) return NOT_CHECKED;
  const taken = new Set<string>();
  for (const param of params.filter((p) => p.type === RouteParamtypes.QUERY)) {
    if (typeof param.data === 'string') taken.add(param.data);
    else if (param.data === undefined) {
      const properties = validatedProperties(param.metatype);
      if (properties.length === 0) return NOT_CHECKED; // not a class-validator DTO: its own pipe judges
      for (const name of properties) taken.add(name);
    }
  }
  return taken;
}

/** The properties a DTO class validates (inherited ones included): what the global ValidationPipe's whitelist keeps. */
function validatedProperties(metatype: unknown): string[] {
  if (typeof metatype !== 'function') return [];
  return getMetadataStorage()
    .getTargetValidationMetadatas(metatype, '', true, false)
    .map((rule) => rule.propertyName);
}
