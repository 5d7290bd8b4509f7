import type { Type } from '@nestjs/common';
import { createValidationPipe } from '../common/pipes/validation.pipe.js';

const pipe = createValidationPipe();

/**
 * Validates a frame's payload with a REST DTO class and the REST rules (unknown fields refused),
 * throwing the same VALIDATION_FAILED error with details. Gateways rarely need it: a handler
 * parameter `@MessageBody() body: SomeDto` goes through the global ValidationPipe already. This
 * is for code outside a handler's parameters.
 */
export async function validateFrame<T extends object>(dto: Type<T>, payload: unknown): Promise<T> {
  return (await pipe.transform(payload, { type: 'body', metatype: dto })) as T;
}
