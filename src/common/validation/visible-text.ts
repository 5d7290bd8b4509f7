/**
 * Matches a string with at least one visible character: not white space, not a control
 * character (\p{Cc}: NUL, BEL, backspace, …) and not an invisible format character (\p{Cf}:
 * zero-width space and joiners, direction marks and overrides, soft hyphen, BOM, …), all of
 * which `\S` lets through. A message, name or title made only of those would show as nothing.
 */
export const HAS_VISIBLE_TEXT = /[^\s\p{Cc}\p{Cf}]/u;
