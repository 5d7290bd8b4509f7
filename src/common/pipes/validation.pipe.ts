import { ValidationPipe, type ValidationError as ClassValidatorError } from '@nestjs/common';
import { type ErrorDetail, ValidationError } from '../errors/domain-error.js';

/** Flattens class-validator's tree into `{ field, message }` details with dotted paths. */
export function validationDetails(errors: ClassValidatorError[], parent = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) details.push({ field, message });
    if (error.children?.length) details.push(...validationDetails(error.children, field));
  }
  return details;
}

export function validationFailed(errors: ClassValidatorError[]): ValidationError {
  const details = validationDetails(errors);
  const summary =
    details.length === 1 ? details[0].message : `${details.length} fields are invalid: ${details.map((d) => d.message).join('; ')}`;
  return new ValidationError(summary, details);
}

/** Rejects unknown fields (400) instead of silently dropping them, as the contract asks. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => validationFailed(errors),
  });
}
