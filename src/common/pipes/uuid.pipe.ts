import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from '../errors/domain-error.js';

/**
 * Route ids must be UUIDs; anything else is a 400 in the contract's shape. A UUID is passed on
 * lower-cased: ids are compared as strings in process (ordering queues, catch-up holds, event
 * payloads), and the database writes them in lower case.
 */
export function uuidParam(name: string): ParseUUIDPipe {
  const pipe = new ParseUUIDPipe({
    exceptionFactory: () => new ValidationError(`${name} must be a UUID`, [{ field: name, message: `${name} must be a UUID` }]),
  });
  const check = pipe.transform.bind(pipe);
  pipe.transform = async (value, metadata) => ((await check(value, metadata)) as string).toLowerCase();
  return pipe;
}
