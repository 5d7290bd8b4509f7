import { dotEnvProblems } from './dot-env.js';

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
    expect(dotEnvProblems(text)).toEqual(['line 5: "MODULES auth,users" is not NAME=value', 'line 11: "PORT 4000" is not NAME=value']);
  });
});
