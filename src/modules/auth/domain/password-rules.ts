export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const HAS_LETTER = /\p{L}/u;
export const HAS_DIGIT = /\p{Nd}/u;
