import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { UnauthenticatedError } from '../errors/domain-error.js';

/** Who is calling: the user and the session their token belongs to. */
export interface AuthUser {
  userId: string;
  sessionId: string;
}

/** Injects the authenticated caller into a controller method. */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthUser => {
  const user = ctx.switchToHttp().getRequest<{ user?: AuthUser }>().user;
  if (!user) throw new UnauthenticatedError();
  return user;
});
