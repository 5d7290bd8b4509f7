import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { HttpOnlyGuard } from '../auth/http-only-guard.js';
import { UnsupportedMediaError } from '../errors/domain-error.js';

const MULTIPART_BODY = 'parley:multipart-body';

/** Marks a route that takes its body as multipart/form-data (an upload) instead of JSON. */
export const MultipartBody = (): MethodDecorator => SetMetadata(MULTIPART_BODY, true);

/**
 * A request with a body the JSON parser passed over (text/plain, a form, no Content-Type) is
 * answered 415, as the contract says, instead of reaching validation as a body with every field
 * missing. Routes marked @MultipartBody() take multipart/form-data only, and check it themselves.
 * A request without a body (no Content-Length, or 0: what clients send for a POST with none) is
 * not checked, whatever its Content-Type says.
 */
@Injectable()
@HttpOnlyGuard()
export class JsonBodyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (this.reflector.get<boolean>(MULTIPART_BODY, context.getHandler())) return true;
    if (!hasBody(request) || request.is('application/json')) return true;
    const type = request.headers['content-type']?.split(';')[0].trim();
    throw new UnsupportedMediaError(
      'UNSUPPORTED_MEDIA_TYPE',
      type
        ? `The body is ${type}; send it as JSON, with Content-Type: application/json.`
        : 'The body has no Content-Type; send it as JSON, with Content-Type: application/json.',
    );
  }
}

/** Content-Length above 0, or a chunked body (type-is counts Content-Length: 0 as a body). */
function hasBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(request.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}
