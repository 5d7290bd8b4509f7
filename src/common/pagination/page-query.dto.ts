import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { EmptyAsAbsent, ToInt } from '../validation/transforms.js';

/** `?limit=&cursor=` of every cursor-paginated list; the default limit is each list's own. */
export class PageQuery {
  @ApiProperty({ type: 'integer', required: false, minimum: 1, maximum: 100 })
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
