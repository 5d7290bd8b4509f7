import { applyDecorators } from '@nestjs/common';
import { IsString, Matches, MaxLength, ValidateBy, type ValidationOptions } from 'class-validator';
import { LabelForm } from './transforms.js';

/**
 * Matches a string with at least one visible character: not white space, not a control
 * character (\p{Cc}: NUL, BEL, backspace, …), not an invisible format character (\p{Cf}:
 * zero-width space and joiners, direction marks and overrides, soft hyphen, BOM, …), not one
 * Unicode says to draw as nothing when unsupported (Default_Ignorable_Code_Point: the Hangul
 * fillers, which are letters, the combining grapheme joiner, variation selectors, …), not a
 * combining mark (\p{M}: an accent has nothing to sit on without a letter), not a noncharacter
 * (U+FFFF, U+FDD0…: never text), and not the blank Braille pattern U+2800 or the object
 * replacement character U+FFFC (a stand-in for an image that is not there); `\S` lets all of
 * them through. A message, name or title made only of those would show as nothing, or as boxes.
 */
export const HAS_VISIBLE_TEXT = /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{M}\p{Noncharacter_Code_Point}\u2800\uFFFC]/u;

/**
 * What a one-line name or title may not hold: control characters other than white space (which
 * is folded to one space), direction overrides, embeddings and isolates (which reorder the text
 * around them), and invisible spaces (zero-width space, word joiner, BOM). The joiners U+200C
 * and U+200D stay: emoji sequences and several scripts need them.
 */
export const HIDDEN_CHARACTER = /(?![\t\n\v\f\r])[\p{Cc}\u200B\u2060\uFEFF\u202A-\u202E\u2066-\u2069]/u;

/** Refuses a string with a HIDDEN_CHARACTER, naming the field. */
export function NoHiddenCharacters(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'noHiddenCharacters',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !HIDDEN_CHARACTER.test(value),
        defaultMessage: (args) =>
          `${args?.property ?? 'the value'} must not contain control characters, direction overrides or invisible spaces`,
      },
    },
    options,
  );
}

/**
 * A one-line name or title (a user's name, a group's title): folded to its stored form
 * (LabelForm: trimmed, runs of white space one space, NFC), then at most `maxLength` characters of
 * it, something visible (which an empty one is told, alone), no hidden characters. One definition,
 * so that sign-up and a rename take the same names, and a create and a rename the same titles.
 */
export function LabelField(field: string, maxLength: number): PropertyDecorator {
  // In the order stacked decorators would apply (the last written first).
  return applyDecorators(
    NoHiddenCharacters(),
    Matches(HAS_VISIBLE_TEXT, { message: `${field} must not be blank` }),
    MaxLength(maxLength),
    IsString(),
    LabelForm(),
  );
}

/** A message's text, kept as written: at most `maxLength` characters, something visible. The same over REST and the WebSocket. */
export function MessageText(field: string, maxLength: number): PropertyDecorator {
  return applyDecorators(
    Matches(HAS_VISIBLE_TEXT, { message: `${field} must not be empty or only white space` }),
    MaxLength(maxLength),
    IsString(),
  );
}
