import { applyDecorators, type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ApiExtension } from '@nestjs/swagger';
import type { Request } from 'express';
import { HttpOnlyGuard } from '../auth/http-only-guard.js';
import { UnsupportedMediaError, unknownFields, ValidationError } from '../errors/domain-error.js';
import { type RouteParam, RouteParams } from './route-params.js';

const BODY_BY_HAND = 'parley:bodyByHand';
/** Tells the OpenAPI post-processing (common/openapi/error-responses.ts) the body is not validated. */
export const BODY_BY_HAND_EXTENSION = 'x-parley-body-by-hand';

/**
 * Marks a route that reads what JSON body it gets by hand, leniently, without `@Body()`
 * (sign-out: a stray field must not keep anyone signed in). JsonBodyGuard lets any body through.
 */
export const ReadsBodyByHand = (): MethodDecorator =>
  applyDecorators(SetMetadata(BODY_BY_HAND, true), ApiExtension(BODY_BY_HAND_EXTENSION, true)) as MethodDecorator;

/**
 * A route that reads a JSON body (a `@Body()` parameter) answers 415 to a body the JSON parser
 * passed over (text/plain, a form, multipart), as the contract says, instead of reading it as a
 * body with every field missing. Uploads take their file with `@UploadedFile()` and check its
 * type themselves.
 *
 * A route that takes no body (no `@Body()`: `POST /auth/confirm-email/resend`, a DELETE) answers
 * 400 VALIDATION_FAILED to a JSON body with fields, naming them, as it would any unknown field,
 * rather than ignore them: `{ "email": … }` to the resend route would read as a request to mail
 * another address. `{}` passes. Sign-out is marked @ReadsBodyByHand() and takes anything.
 *
 * Only a body that is there and typed is judged for 415: Content-Length above 0 with any
 * Content-Type or none, or a chunked body with a Content-Type. A chunked body without one (a
 * client that streams, perhaps nothing) goes on unparsed, as before: validation says what is
 * missing.
 *
 * It runs before the authentication guard (CoreModule's guards come first), so a body of the
 * wrong type is refused before the session is looked at; both answers are the client's to fix.
 */
@Injectable()
@HttpOnlyGuard()
export class JsonBodyGuard implements CanActivate {
  /** What each route takes: anything (@ReadsBodyByHand), a JSON body (`@Body()`), a file (`@UploadedFile()`, multipart), or nothing. */
  private readonly takes = new RouteParams<TakesBody>(takenBy);

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    const takes = this.takes.of(context);
    if (takes === 'anything') return true; // read by hand (sign-out)
    if (takes === 'file') return true; // the upload checks its own body's type
    if (takes === 'nothing') {
      refuseStrayBody(request);
      return true;
    }
    if (!hasTypedBody(request) || request.is('application/json')) return true;
    const type = request.headers['content-type']?.split(';')[0].trim();
    throw new UnsupportedMediaError(
      'UNSUPPORTED_MEDIA_TYPE',
      type
        ? `The body is ${type}; send it as JSON, with Content-Type: application/json.`
        : 'The body has no Content-Type; send it as JSON, with Content-Type: application/json.',
    );
  }
}

type TakesBody = 'anything' | 'json' | 'file' | 'nothing';

function takenBy(params: RouteParam[], handler: object): TakesBody {
  if (Reflect.getMetadata(BODY_BY_HAND, handler) === true) return 'anything';
  const types = new Set(params.map((p) => p.type));
  if (types.has(RouteParamtypes.BODY)) return 'json';
  if (types.has(RouteParamtypes.FILE) || types.has(RouteParamtypes.FILES)) return 'file';
  return 'nothing';
}

/** A JSON body with something in it, to a route that takes none. */
function refuseStrayBody(request: Request): void {
  const body: unknown = request.body;
  if (body === undefined || !request.is('application/json')) return;
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body) : undefined;
  if (fields?.length === 0) return;
  throw new ValidationError(`${request.method} ${request.path} takes no body; leave it out.`, fields && unknownFields(fields).details);
}

function hasTypedBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return request.headers['content-type'] !== undefined;
  const length = Number(request.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}
