import { parse } from 'dotenv';
import { readFileSync } from 'node:fs';
import { loadConfig } from './app-config.js';
import { dotEnvProblems, unreadDotEnvNames } from './dot-env.js';

describe('dotEnvProblems', () => {
  it('names the lines dotenv would skip without a word, and passes comments, blanks, export and quoted values over several lines', () => {
    const text = [
      '\uFEFF# settings',
      '',
      'PORT=3000',
      'export LOG_LEVEL=debug',
      'MODULES auth,users',
      '  JWT_ACCESS_SECRET = "a#b"  # a comment',
      'GREETING="first line',
      'no assignment here either',
      'closing line"',
      "QUOTED='one line'",
      'PORT 4000',
      'NODE_ENV: production',
    ].join('\r\n');
    expect(dotEnvProblems(text)).toEqual([
      'line 5: "MODULES auth,users" is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.',
      'line 11: "PORT 4000" is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.',
    ]);
  });

  it('reads a quote that is never closed as dotenv does: the value keeps it, and the lines after are checked as lines', () => {
    const text = ['JWT_ACCESS_SECRET="abcdefghijklmnop', 'MODULES auth,users', 'MAIL_FROM="Parley <x@example.com>"'].join('\n');
    // dotenv: the secret is `"abcdefghijklmnop` (the quote kept), MODULES is dropped, MAIL_FROM is read.
    expect(Object.keys(parse(text))).toEqual(['JWT_ACCESS_SECRET', 'MAIL_FROM']);
    expect(dotEnvProblems(text)).toEqual([
      'line 1: the value opens a " that no later line closes (dotenv would keep the " in the value); close it at the end of the value, or leave it out.',
      'line 2: "MODULES auth,users" is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.',
    ]);
  });

  it('runs a quoted value on only to a closing quote that ends its line, skipping escaped quotes, as dotenv does', () => {
    const spans = ['A="first \\" still', 'B=1 inside', 'last"  # done', 'C=2'].join('\n');
    expect(parse(spans)).toEqual({ A: 'first \\" still\nB=1 inside\nlast', C: '2' });
    expect(dotEnvProblems(spans)).toEqual([]);
    // Closed with more after it on its line: no span, the value is the first line as written.
    const notSpanning = ['A="abc', 'B=1', 'C="x" y'].join('\n');
    expect(parse(notSpanning)).toEqual({ A: '"abc', B: '1', C: '"x" y' });
    expect(dotEnvProblems(notSpanning)).toEqual([
      'line 1: the value opens a " that no later line closes (dotenv would keep the " in the value); close it at the end of the value, or leave it out.',
    ]);
    expect(dotEnvProblems('A="a"b\nB=1')).toEqual([]);
  });

  it('tells the names a .env sets that Parley does not read (a misspelt one), and none of .env.sample or docker compose', () => {
    const asked = new Set<string>();
    loadConfig({}, asked);
    const sample = Object.keys(parse(readFileSync('.env.sample', 'utf8').replace(/^# ?(?=[A-Z][A-Z0-9_]*=)/gm, '')));
    expect(sample.length).toBeGreaterThan(20);
    expect(unreadDotEnvNames(sample, asked)).toEqual([]);
    expect(
      unreadDotEnvNames(['LOG_LEVLE', 'DATABSE_URL', 'PORT', 'POSTGRES_PASSWORD', 'MINIO_ROOT_USER', 'PGSSLMODE', 'NODE_OPTIONS'], asked),
    ).toEqual(['LOG_LEVLE', 'DATABSE_URL']);
  });
});
