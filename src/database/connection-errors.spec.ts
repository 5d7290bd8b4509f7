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
      // pg_hba.conf's refusal names SSL, and is about the user and address, not TLS.
      [
        Object.assign(new Error('no pg_hba.conf entry for host "10.0.0.5", user "parley", database "parley", SSL off'), { code: '28000' }),
        /^DATABASE_URL was refused by the server/,
      ],
      // A host that drops the connection, or resets it (not PostgreSQL there).
      [
        new Error('Connection terminated unexpectedly'),
        /^DATABASE_URL is unreachable: Connection terminated unexpectedly .*fix DATABASE_URL/,
      ],
      [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), /^DATABASE_URL is unreachable: read ECONNRESET/],
      // sslmode asking for TLS of a server without it, or a certificate that does not verify.
      [new Error('The server does not support SSL connections'), /^DATABASE_URL's TLS connection failed: .*sslmode=disable/],
      [
        Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
        /^DATABASE_URL's TLS connection failed/,
      ],
      // Anything else still says which setting to look at.
      [new Error('something new'), /^DATABASE_URL could not be used: something new .*fix DATABASE_URL/],
    ];
    for (const [error, expected] of cases) {
      const message = explainConnectionError(error, url).message;
      expect(message).toMatch(expected);
      expect(message).not.toContain('hunter2');
    }
  });
});
