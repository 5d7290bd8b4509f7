import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Request } from 'express';
import { HttpOnlyGuard } from '../auth/http-only-guard.js';
import { UnsupportedMediaError } from '../errors/domain-error.js';

/**
 * A route that reads a JSON body (a `@Body()` parameter) answers 415 to a body the JSON parser
 * passed over (text/plain, a form, multipart), as the contract says, instead of reading it as a
 * body with every field missing. Routes without `@Body()` are not checked: uploads take their
 * file with `@UploadedFile()` and check its type themselves, and sign-out reads what JSON it
 * gets by hand, so that no body keeps anyone signed in.
 *
 * Only a body that is there and typed is judged: Content-Length above 0 with any Content-Type
 * or none, or a chunked body with a Content-Type. A chunked body without one (a client that
 * streams, perhaps nothing) goes on unparsed, as before: validation says what is missing.
 *
 * It runs before the authentication guard (CoreModule's guards come first), so a body of the
 * wrong type is refused before the session is looked at; both answers are the client's to fix.
 */
@Injectable()
@HttpOnlyGuard()
export class JsonBodyGuard implements CanActivate {
  private readonly readsBody = new WeakMap<object, boolean>();

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (!hasTypedBody(request) || request.is('application/json') || !this.routeReadsBody(context)) return true;
    const type = request.headers['content-type']?.split(';')[0].trim();
    throw new UnsupportedMediaError(
      'UNSUPPORTED_MEDIA_TYPE',
      type
        ? `The body is ${type}; send it as JSON, with Content-Type: application/json.`
        : 'The body has no Content-Type; send it as JSON, with Content-Type: application/json.',
    );
  }

  private routeReadsBody(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let reads = this.readsBody.get(handler);
    if (reads === undefined) {
      const params = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<string, unknown>;
      // Nest keys them `${paramtype}:${index}`.
      reads = Object.keys(params).some((key) => key.split(':')[0] === String(RouteParamtypes.BODY));
      this.readsBody.set(handler, reads);
    }
    return reads;
  }
}

function hasTypedBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return request.headers['content-type'] !== undefined;
  const length = Number(request.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}
