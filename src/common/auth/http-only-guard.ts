import { SetMetadata } from '@nestjs/common';

const HTTP_ONLY_GUARD = 'parley:http-only-guard';

/**
 * Marks a guard whose `canActivate` lets every call that is not HTTP through (it returns true
 * for them first thing), so WebSocket handlers need not run it on every frame: see
 * DirectHandlers. A global guard without this mark keeps gateway handlers on Nest's pipeline.
 */
export const HttpOnlyGuard = (): ClassDecorator => SetMetadata(HTTP_ONLY_GUARD, true);

/** True for a guard class marked with @HttpOnlyGuard(). */
export function isHttpOnlyGuard(guardType: unknown): boolean {
  return typeof guardType === 'function' && Reflect.getMetadata(HTTP_ONLY_GUARD, guardType) === true;
}
