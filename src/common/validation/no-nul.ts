/**
 * The dotted path of the first string (value or key) in a body or query that holds U+0000, which
 * no text column can store: refused up front for every field, rather than each DTO remembering to.
 */
export function fieldWithNul(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path || 'body' : undefined;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (key.includes('\0')) return path || 'body';
    const found = fieldWithNul(item, field);
    if (found) return found;
  }
  return undefined;
}
