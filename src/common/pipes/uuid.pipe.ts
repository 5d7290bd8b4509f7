import { type ArgumentMetadata, ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from '../errors/domain-error.js';

/** ParseUUIDPipe, handing on the UUID lower-cased. */
class LowerCaseUuidPipe extends ParseUUIDPipe {
  override async transform(value: string, metadata: ArgumentMetadata): Promise<string> {
    return ((await super.transform(value, metadata)) as string).toLowerCase();
  }
}

/**
 * Route ids must be UUIDs; anything else is a 400 in the contract's shape. A UUID is passed on
 * lower-cased: ids are compared as strings in process (ordering queues, catch-up holds, event
 * payloads), and the database writes them in lower case.
 */
export function uuidParam(name: string): ParseUUIDPipe {
  return new LowerCaseUuidPipe({
    exceptionFactory: () => new ValidationError(`${name} must be a UUID`, [{ field: name, message: `${name} must be a UUID` }]),
  });
}
