import {
  Max,
  IsBoolean,
  IsInt,
  IsObject,
  IsUUID,
  Min,
  Validate,
  type ValidationArguments,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { TEXT_MAX_LENGTH } from '../domain/message.js';
import { MessageText } from '../../../common/validation/visible-text.js';
import { isUuid } from '../../../common/ids/uuid.js';

/** WebSocket frames, validated by the same rules as their REST twins. */
export class SendMessageFrame {
  @IsUUID('all', { message: 'chatId must be a UUID' })
  chatId: string;

  @MessageText('text', TEXT_MAX_LENGTH)
  text: string;

  @IsUUID('all', { message: 'clientId must be a UUID' })
  clientId: string;
}

export class TypingFrame {
  @IsUUID('all', { message: 'chatId must be a UUID' })
  chatId: string;

  @IsBoolean()
  isTyping: boolean;
}

export class MarkReadFrame {
  @IsUUID('all', { message: 'chatId must be a UUID' })
  chatId: string;

  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seq: number;
}

export const SYNC_MAX_CHATS = 500;

@ValidatorConstraint({ name: 'syncChats' })
class SyncChatsConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const entries = Object.entries(value);
    return (
      entries.length <= SYNC_MAX_CHATS &&
      entries.every(([chatId, seq]) => isUuid(chatId) && Number.isSafeInteger(seq) && (seq as number) >= 0)
    );
  }

  /** Names what is wrong, and where: with hundreds of chats in a frame, "one of them" is no help. */
  defaultMessage(args: ValidationArguments): string {
    const rule = `chats must map up to ${SYNC_MAX_CHATS} chat ids (UUIDs) to the last seq seen (a whole number ≥ 0)`;
    const value: unknown = args.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return rule;
    const entries = Object.entries(value);
    if (entries.length > SYNC_MAX_CHATS) return `${rule}; this one names ${entries.length}`;
    const bad = entries.find(([chatId, seq]) => !isUuid(chatId) || !Number.isSafeInteger(seq) || (seq as number) < 0);
    if (!bad) return rule;
    const [chatId, seq] = bad;
    return isUuid(chatId)
      ? `${rule}; the seq of ${chatId} is ${shortened(JSON.stringify(seq) ?? String(seq))}`
      : `${rule}; ${shortened(JSON.stringify(chatId))} is not a UUID`;
  }
}

/** What a client sent, shown in an error: cut at 64 characters, so an error never echoes a frame's bulk. */
function shortened(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

export class SyncFrame {
  @IsObject()
  @Validate(SyncChatsConstraint)
  chats: Record<string, number>;
}
