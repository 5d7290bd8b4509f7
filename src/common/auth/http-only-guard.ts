import { SetMetadata } from '@nestjs/common';

const HTTP_ONLY_GUARD = 'parley:http-only-guard';

/**
 * Marks a guard whose `canActivate` lets every call that is not HTTP through (it returns true
 * for them first thing), so WebSocket handlers need not run it on every frame: see
 * DirectHandlers. A global guard without this mark keeps gateway handlers on Nest's pipeline.
 */
export const HttpOnlyGuard = (): ClassDecorator => SetMetadata(HTTP_ONLY_GUARD, true);

/**
 * True for a guard class marked with @HttpOnlyGuard() itself. Not inherited: a subclass may well
 * check WebSocket calls, so it must say so again.
 */
export function isHttpOnlyGuard(guardType: unknown): boolean {
  return typeof guardType === 'function' && Reflect.getOwnMetadata(HTTP_ONLY_GUARD, guardType) === true;
}
