import { ApiProperty } from '@nestjs/swagger';
import type { Message } from '../domain/message.js';

export class MessageDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) chatId: string;
  @ApiProperty({ type: 'integer', description: 'Position in the chat: 1, 2, 3, … without gaps' }) seq: number;
  @ApiProperty({ format: 'uuid' }) senderId: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) clientId: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Null once deleted' }) text: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) editedAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deletedAt: string | null;
}

export function toMessageDto(m: Message): MessageDto {
  return {
    id: m.id,
    chatId: m.chatId,
    seq: m.seq,
    senderId: m.senderId,
    clientId: m.clientId,
    text: m.deletedAt ? null : m.text,
    createdAt: m.createdAt.toISOString(),
    editedAt: m.editedAt?.toISOString() ?? null,
    deletedAt: m.deletedAt?.toISOString() ?? null,
  };
}
