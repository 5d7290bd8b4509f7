import { ApiExtraModels, ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsUUID, ValidateIf } from 'class-validator';
import { DefaultLimit, PageQuery } from '../../../common/pagination/page-query.dto.js';
import { LowerCaseIds } from '../../../common/validation/transforms.js';
import { MessageDto } from '../../messages/dto/message.dto.js';
import { PublicUserDto } from '../../users/dto/user.dto.js';
import { nullableRef } from '../../../common/openapi/nullable-ref.js';
import { MAX_GROUP_MEMBERS, type MemberRole, TITLE_MAX_LENGTH } from '../domain/chat.js';

import { LabelField } from '../../../common/validation/visible-text.js';

export class CreateChatDto {
  @ApiProperty({
    enum: ['direct', 'group'],
    description: 'direct: takes userId and nothing else; group: takes title, and memberIds if any, but no userId',
  })
  @IsIn(['direct', 'group'])
  type: 'direct' | 'group';

  @ApiProperty({
    required: false,
    format: 'uuid',
    description: 'The other person: required for a direct chat (not your own id), refused for a group',
  })
  @ValidateIf((o: CreateChatDto) => o.type === 'direct' || o.userId !== undefined)
  @IsUUID('all', { message: 'userId must be a UUID' })
  @LowerCaseIds()
  userId?: string;

  @ApiProperty({
    required: false,
    minLength: 1,
    maxLength: TITLE_MAX_LENGTH,
    description: "Required for a group, refused for a direct chat (whose title is the other person's name)",
  })
  @ValidateIf((o: CreateChatDto) => o.type === 'group' || o.title !== undefined)
  @LabelField('title', TITLE_MAX_LENGTH)
  title?: string;

  @ApiProperty({
    required: false,
    type: 'array',
    items: { type: 'string', format: 'uuid' },
    maxItems: MAX_GROUP_MEMBERS - 1,
    description: 'Group only (refused for a direct chat): members besides you; none when left out',
  })
  @ValidateIf((o: CreateChatDto) => o.memberIds !== undefined)
  @IsArray()
  @ArrayMaxSize(MAX_GROUP_MEMBERS - 1)
  @IsUUID('all', { each: true, message: 'each memberIds entry must be a UUID' })
  @LowerCaseIds()
  memberIds?: string[];
}

/** CreateChatDto as the OpenAPI document shows it for a direct chat (only; validation is CreateChatDto's). */
export class CreateDirectChatBody {
  @ApiProperty({ enum: ['direct'] })
  type: 'direct';

  @ApiProperty({ format: 'uuid', description: 'The other person (not your own id)' })
  userId: string;
}

/** CreateChatDto as the OpenAPI document shows it for a group (only; validation is CreateChatDto's). */
export class CreateGroupChatBody {
  @ApiProperty({ enum: ['group'] })
  type: 'group';

  @ApiProperty({ minLength: 1, maxLength: TITLE_MAX_LENGTH, description: 'Unique among the groups you own, ignoring case' })
  title: string;

  @ApiProperty({
    required: false,
    type: 'array',
    items: { type: 'string', format: 'uuid' },
    maxItems: MAX_GROUP_MEMBERS - 1,
    description: 'Members besides you; none when left out',
  })
  memberIds?: string[];
}

export class UpdateChatDto {
  @ApiProperty({ minLength: 1, maxLength: TITLE_MAX_LENGTH })
  @LabelField('title', TITLE_MAX_LENGTH)
  title: string;
}

/** Users added by one request (the group's own limit, MAX_GROUP_MEMBERS, still applies). */
const ADD_MEMBERS_MAX = 100;

export class AddMembersDto {
  @ApiProperty({ type: 'array', items: { type: 'string', format: 'uuid' }, minItems: 1, maxItems: ADD_MEMBERS_MAX })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ADD_MEMBERS_MAX)
  @IsUUID('all', { each: true, message: 'each userIds entry must be a UUID' })
  @LowerCaseIds()
  userIds: string[];
}

export class ChangeRoleDto {
  @ApiProperty({ enum: ['owner', 'admin', 'member'], description: 'owner hands the chat over; the previous owner becomes admin' })
  @IsIn(['owner', 'admin', 'member'])
  role: MemberRole;
}

/** `?limit=` (default 50) and `?cursor=`. */
@DefaultLimit(50)
export class ListChatsQuery extends PageQuery {}

@ApiExtraModels(PublicUserDto, MessageDto)
export class ChatDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['direct', 'group'] }) type: 'direct' | 'group';
  @ApiProperty({ description: "For a direct chat, the other person's name" }) title: string;
  @ApiProperty(
    nullableRef(
      PublicUserDto,
      "For a direct chat, the other person's public profile (as GET /users/:id: avatar, online, last seen); null for a group",
    ),
  )
  peer: PublicUserDto | null;
  @ApiProperty({ type: 'integer' }) memberCount: number;
  @ApiProperty(nullableRef(MessageDto, 'The newest message; null while the chat has none')) lastMessage: MessageDto | null;
  @ApiProperty({ type: 'integer', description: 'Messages from others after your read pointer, deleted ones not counted' })
  unreadCount: number;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class ChatPageDto {
  @ApiProperty({ type: [ChatDto] }) items: ChatDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class MemberDto {
  @ApiProperty({ format: 'uuid' }) userId: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: String, nullable: true, description: 'As in the public profile (GET /users/:id)' }) avatarUrl: string | null;
  @ApiProperty({ description: 'Connected right now (as in the public profile)' }) online: boolean;
  @ApiProperty({ enum: ['owner', 'admin', 'member'] }) role: MemberRole;
  @ApiProperty({ type: 'integer' }) lastReadSeq: number;
  @ApiProperty({
    type: 'integer',
    description:
      "The chat's last seq when this member was added (0: from the start). Their read pointer starts there; they are no reader of the messages up to it.",
  })
  joinedSeq: number;
}

export class ChatDetailDto extends ChatDto {
  @ApiProperty({ type: [MemberDto] }) members: MemberDto[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: 'integer', description: "The chat's newest seq (0 before its first message)" }) lastSeq: number;
}
