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

  const KEEPS = (name: string, line: number) =>
    `line ${line}: the value of ${name} starts with " but does not end with one, so dotenv keeps the " in the value; close it at the end of the value, or leave it out.`;

  it('reads a quote that is never closed as dotenv does: the value keeps it, and the lines after are checked as lines', () => {
    const text = ['JWT_ACCESS_SECRET="abcdefghijklmnop', 'MODULES auth,users', 'MAIL_FROM="Parley <x@example.com>"'].join('\n');
    // dotenv: the secret is `"abcdefghijklmnop` (the quote kept), MODULES is dropped, MAIL_FROM is read.
    expect(Object.keys(parse(text))).toEqual(['JWT_ACCESS_SECRET', 'MAIL_FROM']);
    expect(dotEnvProblems(text)).toEqual([
      KEEPS('JWT_ACCESS_SECRET', 1),
      'line 2: "MODULES auth,users" is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.',
    ]);
    // Closed with more after it on its line: no span, the quote kept; the lines after read as lines.
    const notSpanning = ['A="abc', 'B=1', 'C="x" y'].join('\n');
    expect(parse(notSpanning)).toEqual({ A: '"abc', B: '1', C: '"x" y' });
    expect(dotEnvProblems(notSpanning)).toEqual([KEEPS('A', 1), KEEPS('C', 3)]);
  });

  it('takes a quoted value over several lines as dotenv does, and says when it takes in lines that look like settings', () => {
    const pem = ['KEY="-----BEGIN KEY-----', 'abc+/=', '-----END KEY-----"', 'C=2'].join('\n');
    expect(Object.keys(parse(pem))).toEqual(['KEY', 'C']);
    expect(dotEnvProblems(pem)).toEqual([]);
    // A quote escaped at the end of a line does not close it: dotenv runs on, taking PORT into DATA_DIR.
    const escaped = ['DATA_DIR="C:\\parley\\"', 'PORT=41831', '# e.g. "', 'MODULES=health'].join('\n');
    expect(parse(escaped)).toEqual({ DATA_DIR: 'C:\\parley\\"\nPORT=41831\n# e.g. ', MODULES: 'health' });
    expect(dotEnvProblems(escaped)).toEqual([
      'line 1: the quoted value of DATA_DIR runs on to line 3, taking in line 2, which looks like a setting of its own; close the quote where the value ends (a \\" does not close it).',
    ]);
    // An escaped quote at a line's end that dotenv does close the value on: read as it reads it.
    const closedByEscape = ['A="x', '\\"', 'B=2'].join('\n');
    expect(parse(closedByEscape)).toEqual({ A: 'x\n\\', B: '2' });
    expect(dotEnvProblems(closedByEscape)).toEqual([]);
  });

  it('agrees with dotenv on generated files: when it finds nothing wrong, every line that looks like a setting is read as one', () => {
    const kinds = [
      'A=1',
      'B="x"',
      'C="x',
      'D=x"',
      'E="a\\"',
      '# c "',
      "F='y",
      'G="multi',
      'end"',
      'bad line',
      '',
      'H=',
      'I="a"b',
      'J=`k`',
      'K="a # b"',
      'L=v # c',
    ];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let clean = 0;
    for (let n = 0; n < 3000; n++) {
      const lines = Array.from({ length: 1 + Math.floor(next() * 6) }, () => kinds[Math.floor(next() * kinds.length)]);
      const text = lines.join('\n');
      if (dotEnvProblems(text).length > 0) continue;
      clean++;
      const read = parse(text);
      for (const line of lines) {
        const name = /^([\w.-]+)=/.exec(line)?.[1];
        if (name) expect({ text, name, read: name in read }).toEqual({ text, name, read: true });
      }
    }
    expect(clean).toBeGreaterThan(100);
  });

  it('tells the names a .env sets that Parley does not read (a misspelt one), and none of .env.sample or docker compose', () => {
    const asked = new Set<string>();
    loadConfig({}, asked);
    const sample = Object.keys(parse(readFileSync('.env.sample', 'utf8').replace(/^# ?(?=[A-Z][A-Z0-9_]*=)/gm, '')));
    expect(sample.length).toBeGreaterThan(20);
    expect(unreadDotEnvNames(sample, asked)).toEqual([]);
    expect(
      unreadDotEnvNames(
        [
          'LOG_LEVLE',
          'DATABSE_URL',
          'PORT',
          'POSTGRES_PASSWORD',
          'MINIO_ROOT_USER',
          'PGSSLMODE',
          'NODE_OPTIONS',
          'TZ',
          'DEBUG',
          'https_proxy',
        ],
        asked,
      ),
    ).toEqual(['LOG_LEVLE', 'DATABSE_URL']);
  });
});
