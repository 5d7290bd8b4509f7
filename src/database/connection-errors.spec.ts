import { explainConnectionError } from './connection-errors.js';

describe('explainConnectionError', () => {
  const url = 'postgres://parley:hunter2@db.example:5432/parley';

  it('names DATABASE_URL and the fix for every kind of failure, never the password', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        /^DATABASE_URL is unreachable: .*Start PostgreSQL there/,
      ],
      [
        Object.assign(new Error('database "parley" does not exist'), { code: '3D000' }),
        /^DATABASE_URL names a database that does not exist/,
      ],
      [Object.assign(new Error('password authentication failed'), { code: '28P01' }), /^DATABASE_URL was refused by the server/],
      // Anything else (seen: a host that drops the connection) still says which setting to look at.
      [
        new Error('Connection terminated unexpectedly'),
        /^DATABASE_URL could not be used: Connection terminated unexpectedly .*fix DATABASE_URL/,
      ],
    ];
    for (const [error, expected] of cases) {
      const message = explainConnectionError(error, url).message;
      expect(message).toMatch(expected);
      expect(message).not.toContain('hunter2');
    }
  });
});
