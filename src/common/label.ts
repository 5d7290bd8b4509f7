/**
 * Names and titles as they are stored: NFC (one string however it was typed), trimmed, each run
 * of white space one space. The DTOs apply it before validation too (LabelForm), so the length
 * rules judge what is stored: NFC can lengthen a string (U+0958 is two code points in it) and
 * folding shortens one.
 */
export function normaliseLabel(text: string): string {
  return text.normalize('NFC').trim().replace(/\s+/g, ' ');
}
