import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IS_PUBLIC = 'parley:isPublic';
/** Tells the OpenAPI post-processing (common/openapi/error-responses.ts) the route needs no session. */
export const PUBLIC_EXTENSION = 'x-parley-public';

/** Marks a controller or route as reachable without authentication. */
export const Public = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true)) as ClassDecorator & MethodDecorator;
