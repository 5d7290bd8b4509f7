/**
 * Names and titles as they are stored: NFC (one string however it was typed), trimmed, each run
 * of white space one space. The DTOs apply it before validation too (LabelForm), so the length
 * rules judge what is stored: NFC can lengthen a string (U+0958 is two code points in it) and
 * folding shortens one. U+FEFF, white space to `\s`, is not folded but left inside for the
 * validators to refuse as an invisible character (only trim() takes it from the ends, as before).
 */
export function normaliseLabel(text: string): string {
  return text
    .normalize('NFC')
    .trim()
    .replace(/[^\S\uFEFF]+/g, ' ');
}
