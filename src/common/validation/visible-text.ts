/**
 * Matches a string with at least one visible character: not white space, and not one of the
 * invisible format characters (zero-width space, joiners, word joiner, BOM) that `\S` lets
 * through. A message, name or title made only of those would show as nothing.
 */
export const HAS_VISIBLE_TEXT = /[^\s\u200B-\u200D\u2060\uFEFF]/u;
