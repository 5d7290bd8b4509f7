import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { EmptyAsAbsent, ToInt } from '../validation/transforms.js';

const LIMIT = { type: 'integer', required: false, minimum: 1, maximum: 100 } as const;

/** `?limit=&cursor=` of every cursor-paginated list; the default limit is each list's own. */
export class PageQuery {
  @ApiProperty(LIMIT)
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiProperty({ required: false, description: 'nextCursor of the previous page (none, or empty, for the first)' })
  @IsOptional()
  @EmptyAsAbsent()
  @IsString()
  cursor?: string;
}

/**
 * Documents a list's own default `limit` (its service applies it) on the list's query class. The
 * whole schema is given again: a subclass's @ApiProperty would otherwise take the field's
 * TypeScript type (number) over the parent's `integer`.
 */
export const DefaultLimit =
  (limit: number): ClassDecorator =>
  (target) =>
    ApiProperty(Object.assign({}, LIMIT, { default: limit }))(target.prototype as object, 'limit');
