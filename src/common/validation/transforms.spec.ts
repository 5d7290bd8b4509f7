import { normaliseEmail } from './transforms.js';

describe('normaliseEmail', () => {
  it.each([
    ['  Ada@Example.COM ', 'ada@example.com'],
    ['ju\u0308rgen@example.com', 'j\u00fcrgen@example.com'],
    ['x@B\u00fccher.example', 'x@xn--bcher-kva.example'],
    ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example'],
    // Lower-casing can undo NFC: the capital alpha with prosgegrammeni plus an accent.
    ['a\u1fbc\u0301@x.example', 'a\u1fb4@x.example'],
    ['"quoted@part"@example.com', '"quoted@part"@example.com'],
    ['no-domain', 'no-domain'],
  ])('writes %j as %j', (typed, stored) => {
    expect(normaliseEmail(typed)).toBe(stored);
  });

  it('gives its own output back unchanged', () => {
    for (const typed of ['a\u1fbc\u0301@x.example', 'J\u00dcRGEN@B\u00dcCHER.example', '\u0130stanbul@example.com'])
      expect(normaliseEmail(normaliseEmail(typed))).toBe(normaliseEmail(typed));
  });
});
