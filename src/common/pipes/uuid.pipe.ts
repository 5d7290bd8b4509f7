import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from '../errors/domain-error.js';

/** Route ids must be UUIDs; anything else is a 400 in the contract's shape. */
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () => new ValidationError(`${name} must be a UUID`, [{ field: name, message: `${name} must be a UUID` }]),
  });
}
