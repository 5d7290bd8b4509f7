import { ValidationPipe } from '@nestjs/common';
import { Exclude } from 'class-transformer';
import { IsInt, IsOptional, IsString } from 'class-validator';
import { UpdateChatDto } from '../../modules/chats/dto/chat.dto.js';
import { MarkReadFrame, SendMessageFrame, SyncFrame, TypingFrame } from '../../modules/messages/dto/message-frames.dto.js';
import { MarkReadDto, SendMessageDto } from '../../modules/messages/dto/message-requests.dto.js';
import { TEXT_MAX_LENGTH } from '../../modules/messages/domain/message.js';
import { ValidationError } from '../errors/domain-error.js';
import { stringProblem } from '../validation/no-nul.js';
import { fastAccept } from './fast-accept.js';
import { createValidationPipe, VALIDATION_OPTIONS } from './validation.pipe.js';

const UUID = '0190f0e4-7c1a-7b3c-8d2e-9f0a1b2c3d4e';

/** A declared field without rules is an own property of every instance, which the whitelist refuses. */
class WithPlainField {
  @IsString()
  a: string;

  note?: string;
}

/** A class-level @Exclude() makes class-transformer copy nothing. */
@Exclude()
class ExcludedClass {
  @IsOptional()
  @IsString()
  a?: string;
}

class Base {
  @IsString()
  a: string;
}

class Derived extends Base {
  @IsInt()
  n: number;
}

/** Bodies around a valid one: each field missing, null, of another type, at and past its limits, plus unknown keys. */
function variations(
  valid: Record<string, unknown>,
  extra: Array<Record<string, unknown> | string>,
): Array<Record<string, unknown> | string> {
  const odd: unknown[] = [null, '', ' ', 'x', 0, -1, 1.5, 2 ** 53, true, [], {}, [UUID], { a: 1 }, UUID.toUpperCase(), `${UUID} `];
  const bodies: Array<Record<string, unknown> | string> = [
    valid,
    {},
    { ...valid, unknown: 1 },
    { ...valid, ['__proto__']: { polluted: true } },
  ];
  for (const key of Object.keys(valid)) {
    const { [key]: _dropped, ...without } = valid;
    bodies.push(without);
    for (const value of odd) bodies.push({ ...valid, [key]: value });
  }
  return [...bodies, ...extra];
}

/** `fast`: whether valid bodies of this DTO take the fast path at all. An `extra` string is raw JSON. */
const cases: Array<{
  dto: new () => object;
  fast: boolean;
  valid: Record<string, unknown>;
  extra?: Array<Record<string, unknown> | string>;
}> = [
  {
    dto: SendMessageFrame,
    fast: true,
    valid: { chatId: UUID, text: 'hello', clientId: UUID },
    extra: [
      { chatId: UUID, text: 'x'.repeat(TEXT_MAX_LENGTH), clientId: UUID },
      { chatId: UUID, text: 'x'.repeat(TEXT_MAX_LENGTH + 1), clientId: UUID },
      { chatId: UUID, text: ' \n\t ', clientId: UUID },
      { chatId: UUID, text: '\u200b', clientId: UUID },
      { chatId: 'not-a-uuid', text: 'hi', clientId: UUID },
    ],
  },
  { dto: TypingFrame, fast: true, valid: { chatId: UUID, isTyping: true }, extra: [{ chatId: UUID, isTyping: 'true' }] },
  {
    dto: MarkReadFrame,
    fast: true,
    valid: { chatId: UUID, seq: 7 },
    extra: [
      { chatId: UUID, seq: '7' },
      { chatId: UUID, seq: Number.MAX_SAFE_INTEGER },
      `{ "chatId": "${UUID}", "seq": 1e400 }`,
      `{ "chatId": "${UUID}", "seq": -0 }`,
    ],
  },
  { dto: SyncFrame, fast: false, valid: { chats: { [UUID]: 3 } } },
  { dto: SendMessageDto, fast: true, valid: { text: 'hi', clientId: UUID }, extra: [{ text: 'hi' }, { text: 'hi', clientId: undefined }] },
  { dto: MarkReadDto, fast: true, valid: { seq: 0 } },
  { dto: UpdateChatDto, fast: false, valid: { title: 'Team' } },
  { dto: WithPlainField, fast: false, valid: { a: 'x' }, extra: [{ a: 'x', note: 'n' }] },
  { dto: ExcludedClass, fast: false, valid: { a: 'x' } },
  { dto: Derived, fast: true, valid: { a: 'x', n: 1 } },
];

/** The body as a frame or request arrives: fresh from JSON.parse (a string is taken as raw JSON). */
function asParsed(body: unknown): unknown {
  return JSON.parse(typeof body === 'string' ? body : JSON.stringify(body));
}

async function outcome(pipe: ValidationPipe, dto: new () => object, body: unknown): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await pipe.transform(asParsed(body), { type: 'body', metatype: dto }) };
  } catch (error) {
    return { error };
  }
}

describe('fastAccept', () => {
  const reference = new ValidationPipe(VALIDATION_OPTIONS);
  const pipe = createValidationPipe();

  it.each(cases.map((c) => [c.dto.name, c] as const))(
    '%s: accepts only what the full ValidationPipe accepts, as the same instance',
    async (_name, { dto, fast: fastPath, valid, extra = [] }) => {
      let accepted = 0;
      for (const body of variations(valid, extra)) {
        const full = await outcome(reference, dto, body);
        const fast = fastAccept(dto, asParsed(body));
        if (fast !== undefined) {
          accepted++;
          expect({ body, error: full.error }).toEqual({ body, error: undefined });
          expect(Object.getPrototypeOf(fast)).toBe(dto.prototype);
          expect(fast).toEqual(full.value);
        }
        // And the pipe in use answers every body as the reference does, errors included, but for
        // what it refuses before any DTO sees it (a __proto__ key, which the reference lets vanish).
        const answer = await outcome(pipe, dto, body);
        if (stringProblem(asParsed(body))) expect(answer.error).toBeInstanceOf(ValidationError);
        else expect(answer).toEqual(full);
      }
      expect(accepted > 0).toBe(fastPath);
    },
  );

  it('takes the fast path for valid frames and plain REST bodies', () => {
    expect(fastAccept(SendMessageFrame, { chatId: UUID, text: 'hello', clientId: UUID })).toBeInstanceOf(SendMessageFrame);
    expect(fastAccept(TypingFrame, { chatId: UUID, isTyping: false })).toBeInstanceOf(TypingFrame);
    expect(fastAccept(MarkReadFrame, { chatId: UUID, seq: 0 })).toBeInstanceOf(MarkReadFrame);
    expect(fastAccept(SendMessageDto, { text: 'hi' })).toBeInstanceOf(SendMessageDto);
  });

  it('leaves to the full path a DTO with class-transformer decorators, nested values, and non-DTO types', () => {
    expect(fastAccept(UpdateChatDto, { title: 'Team' })).toBeUndefined(); // @LabelForm()
    expect(fastAccept(SyncFrame, { chats: { [UUID]: 3 } })).toBeUndefined();
    expect(fastAccept(String, { a: 1 })).toBeUndefined();
    expect(fastAccept(SendMessageFrame, [UUID])).toBeUndefined();
  });
});
