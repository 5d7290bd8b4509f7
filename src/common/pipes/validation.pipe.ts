import {
  type ArgumentMetadata,
  ValidationPipe,
  type ValidationError as ClassValidatorError,
  type ValidationPipeOptions,
} from '@nestjs/common';
import { validateSync, type ValidatorOptions } from 'class-validator';
import { type ErrorDetail, MAX_LISTED_DETAILS, ValidationError } from '../errors/domain-error.js';
import { MAX_BODY_DEPTH, MAX_BODY_KEYS, stringProblem } from '../validation/no-nul.js';
import { fastAccept } from './fast-accept.js';

/**
 * Rules about what a value is. When one of them fails, the field's other rules (a range, a
 * length, a pattern) say nothing useful: "limit must be an integer" alone, rather than with "not
 * greater than 100; not less than 1" for `limit=abc`.
 */
const TYPE_RULES = new Set(['isInt', 'isString', 'isNumber', 'isBoolean', 'isArray', 'isObject', 'isUuid']);

/** Flattens class-validator's tree into `{ field, message }` details with dotted paths. */
export function validationDetails(errors: ClassValidatorError[], parent = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    // Nothing there (an optional field left out is not validated at all): that alone, not every rule the nothing fails.
    if (error.value === undefined && error.constraints) {
      details.push({ field, message: `${field} is required` });
      continue;
    }
    const failed = Object.entries(error.constraints ?? {});
    const ofType = failed.filter(([rule]) => TYPE_RULES.has(rule));
    for (const [, message] of ofType.length > 0 ? ofType : failed) details.push({ field, message });
    if (error.children?.length) details.push(...validationDetails(error.children, field));
  }
  return details;
}

export function validationFailed(errors: ClassValidatorError[]): ValidationError {
  const details = validationDetails(errors);
  const fields = new Set(details.map((d) => d.field)).size;
  const listed = details.slice(0, MAX_LISTED_DETAILS);
  const more = details.length - listed.length;
  const messages = listed.map((d) => d.message).join('; ') + (more > 0 ? `; and ${more} more` : '');
  return new ValidationError(fields > 1 ? `${fields} fields are invalid: ${messages}` : messages, listed);
}

/**
 * Validates synchronously: class-validator's async `validate` makes promises per rule, on every
 * request and every WebSocket frame. Parley's DTOs have no async rules (validateSync would skip
 * one: keep constraints synchronous, or validate such a field in the handler).
 */
class SyncValidationPipe extends ValidationPipe {
  /** A body that passes every rule of a plain DTO skips the generic path (see fast-accept.ts). */
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const found = metadata.type === 'body' || metadata.type === 'query' ? stringProblem(value) : undefined;
    if (found) {
      const message = {
        nul: `${found.field} must not contain the NUL character (U+0000)`,
        surrogate: `${found.field} holds half of a UTF-16 surrogate pair, which is no character`,
        depth: `${found.field} is nested more than ${MAX_BODY_DEPTH} levels deep`,
        reserved: `${found.field} is not an accepted field name`,
        keys: `The body holds more than ${MAX_BODY_KEYS} field names in all; no request takes that many`,
      }[found.problem];
      throw new ValidationError(message, [{ field: found.field, message }]);
    }
    // The DTOs describe objects: an array would be read as one with every field missing.
    if (metadata.type === 'body' && Array.isArray(value))
      throw new ValidationError('The request body must be a JSON object, not an array.');
    return (metadata.type === 'body' ? fastAccept(metadata.metatype, value) : undefined) ?? super.transform(value, metadata);
  }

  protected override validate(object: object, validatorOptions?: ValidatorOptions): ClassValidatorError[] {
    return validateSync(object, validatorOptions);
  }
}

/**
 * Rejects unknown fields (400) instead of silently dropping them, as the contract asks. (No
 * groups and nothing skipped: fast-accept.ts relies on that.)
 */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
  exceptionFactory: (errors) => validationFailed(errors),
};

export function createValidationPipe(): ValidationPipe {
  return new SyncValidationPipe(VALIDATION_OPTIONS);
}
