import { type ApiPropertyOptions, getSchemaPath } from '@nestjs/swagger';

/**
 * A property that is either an object of `model`'s schema or null. In OpenAPI 3.0, `nullable`
 * only widens a `type` given beside it, so `{ type: object, nullable: true, allOf: [$ref] }` still
 * refuses null (validators, mock servers and contract tests follow that): null has to be an
 * alternative of its own. The model must be among the document's schemas (ApiExtraModels).
 */
export function nullableRef(model: new (...args: never[]) => unknown, description: string): ApiPropertyOptions {
  return {
    description,
    oneOf: [{ $ref: getSchemaPath(model) }, { type: 'object', nullable: true, enum: [null] }],
  } as ApiPropertyOptions;
}
