import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { DefaultLimit, PageQuery } from '../../../common/pagination/page-query.dto.js';

import { avatarUrlOf, NAME_MAX_LENGTH, type User } from '../domain/user.js';

import { LabelField } from '../../../common/validation/visible-text.js';

export class MeDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'ada@example.com' }) email: string;
  @ApiProperty({ example: 'Ada Lovelace' }) name: string;
  @ApiProperty({ type: String, nullable: true, example: '/api/v1/users/5b0c…/avatar?v=1a2b3c4d' }) avatarUrl: string | null;
  @ApiProperty() emailConfirmed: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastSeenAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class PublicUserDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: String, nullable: true }) avatarUrl: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastSeenAt: string | null;
  @ApiProperty({ description: 'Whether the user has at least one open WebSocket connection' }) online: boolean;
}

export class PublicUserPageDto {
  @ApiProperty({ type: [PublicUserDto] }) items: PublicUserDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class UpdateMeDto {
  @ApiProperty({ minLength: 1, maxLength: NAME_MAX_LENGTH, example: 'Ada' })
  @LabelField('name', NAME_MAX_LENGTH)
  name: string;
}

/** As long as an email address may be, so that a whole one can be searched for. */
const SEARCH_QUERY_MAX_LENGTH = 320;

/** `?query=` plus `?limit=` (default 20) and `?cursor=`. */
@DefaultLimit(20)
export class SearchUsersQuery extends PageQuery {
  @ApiProperty({
    required: false,
    maxLength: SEARCH_QUERY_MAX_LENGTH,
    description: 'The start of a name, or a whole email (any case); empty lists everyone',
  })
  @IsOptional()
  @IsString()
  @Length(0, SEARCH_QUERY_MAX_LENGTH)
  query?: string;
}

/** The multipart body of PUT /users/me/avatar, for the OpenAPI document. */
export class AvatarUploadDto {
  @ApiProperty({
    type: 'string',
    format: 'binary',
    description: 'A PNG, JPEG, WebP or GIF image of at most 5 MiB, judged by its content, not by its filename or declared type',
  })
  file: unknown;
}

export function toMe(user: User): MeDto {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    avatarUrl: avatarUrlOf(user),
    emailConfirmed: user.emailConfirmedAt !== null,
    lastSeenAt: user.lastSeenAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
  };
}

export function toPublic(user: User, online: boolean): PublicUserDto {
  return { id: user.id, name: user.name, avatarUrl: avatarUrlOf(user), lastSeenAt: user.lastSeenAt?.toISOString() ?? null, online };
}
