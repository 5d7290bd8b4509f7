import { assertValidObjectKey, InvalidObjectKeyError, MAX_OBJECT_KEY_LENGTH } from './object-key.js';

describe('assertValidObjectKey', () => {
  it.each([
    'avatar.png',
    'avatars/3f2b8c1e-0d4a-4b7e-9c1a-2f5e6d7c8b9a/5d1c2e3f-aaaa-bbbb-cccc-000000000000.webp',
    'a/b/c/d',
    'under_score-and.dots..inside',
    'A'.repeat(MAX_OBJECT_KEY_LENGTH),
  ])('accepts %s', (key) => {
    expect(() => assertValidObjectKey(key)).not.toThrow();
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'starts with "/"'],
    ['..', 'starts with "."'],
    ['../outside', 'starts with "."'],
    ['a/../../outside', 'starts with "."'],
    ['a/./b', 'starts with "."'],
    ['.hidden', 'starts with "."'],
    ['a//b', 'empty path segment'],
    ['a/', 'empty path segment'],
    ['a\\..\\b', 'may only contain'],
    ['with space', 'may only contain'],
    ['percent%2F', 'may only contain'],
    ['naïve', 'may only contain'],
    ['nul\u0000byte', 'may only contain'],
    ['A'.repeat(MAX_OBJECT_KEY_LENGTH + 1), 'longer than'],
  ])('rejects %j (%s)', (key, reason) => {
    expect(() => assertValidObjectKey(key)).toThrow(InvalidObjectKeyError);
    expect(() => assertValidObjectKey(key)).toThrow(reason);
  });
});
