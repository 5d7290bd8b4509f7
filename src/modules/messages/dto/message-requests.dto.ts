import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { ToInt } from '../../../common/validation/transforms.js';
import { MessageDto } from './message.dto.js';
import { TEXT_MAX_LENGTH } from '../domain/message.js';
import { MessageText } from '../../../common/validation/visible-text.js';

export class SendMessageDto {
  @ApiProperty({ minLength: 1, maxLength: TEXT_MAX_LENGTH })
  @MessageText('text', TEXT_MAX_LENGTH)
  text: string;

  @ApiProperty({
    required: false,
    format: 'uuid',
    description: 'Chosen by the client; repeating it returns the original message (200) instead of storing another',
  })
  @IsOptional()
  @IsUUID('all', { message: 'clientId must be a UUID' })
  clientId?: string;
}

export class EditMessageDto {
  @ApiProperty({ minLength: 1, maxLength: TEXT_MAX_LENGTH })
  @MessageText('text', TEXT_MAX_LENGTH)
  text: string;
}

export class MarkReadDto {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Everything up to and including this seq is read' })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seq: number;
}

export class HistoryQueryDto {
  @ApiProperty({ type: 'integer', required: false, minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiProperty({
    type: 'integer',
    required: false,
    minimum: 1,
    description: 'Page back: messages with seq below this, newest first. Not with after or offset.',
  })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  before?: number;

  @ApiProperty({
    type: 'integer',
    required: false,
    minimum: 0,
    description: 'Catch up: messages with seq above this, oldest first. Not with before or offset.',
  })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  after?: number;

  @ApiProperty({
    type: 'integer',
    required: false,
    minimum: 0,
    description: 'Offset mode: skip this many, newest first; adds `total`. Not with before or after.',
  })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;
}

export class MessageReaderDto {
  @ApiProperty({ format: 'uuid' }) userId: string;
  @ApiProperty({ format: 'date-time', description: "When the member's read pointer last moved (at or past this message)" }) readAt: string;
}

export class MessagePageDto {
  @ApiProperty({ type: () => [MessageDto] }) items: MessageDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'For the next page: the seq to pass as before (or after); in offset mode, the offset to pass',
  })
  nextCursor: string | null;
  @ApiProperty({ required: false, type: 'integer', description: 'Offset mode only' }) total?: number;
}

export const DEFAULT_PAGE = 50;
