import type { Abstract } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';

/**
 * The provider of `token` from whichever module provides it, looked up across the whole app (an
 * @Optional() constructor parameter would only see providers of global modules); undefined when
 * no module running provides it (that module is switched off).
 */
export function providedAnywhere<T>(moduleRef: ModuleRef, token: Abstract<T>): T | undefined {
  try {
    return moduleRef.get(token, { strict: false });
  } catch {
    return undefined;
  }
}
