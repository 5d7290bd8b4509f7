import mongoose from 'mongoose';
import { QueryFailedError } from 'typeorm';
import { isOutageBeforeAnswer, isStatementTimeout, isStoreUnreachable } from './store-errors.js';

describe('isStoreUnreachable', () => {
  const { mongo } = mongoose;

  it('takes the drivers’ outage errors for an outage: PostgreSQL by code, MongoDB and Mongoose by class', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const outages = [
      refused,
      new QueryFailedError(
        'SELECT 1',
        [],
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      ),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('database "parley" is not currently accepting connections'), { code: '55000', routine: 'CheckMyDatabase' }),
      // The same under lc_messages = 'de_DE': told by the routine, not the words.
      Object.assign(new Error('Datenbank »parley« akzeptiert gegenwärtig keine Verbindungen'), {
        code: '55000',
        routine: 'CheckMyDatabase',
      }),
      Object.assign(new Error('sorry, too many clients already'), { code: '53300' }),
      // Past DATABASE_QUERY_TIMEOUT: PostgreSQL's statement_timeout, the driver's query_timeout, and the queries behind it.
      new QueryFailedError('SELECT 1', [], Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })),
      new Error('Query read timeout'),
      new Error('Client was closed and is not queryable'),
      // A statement still queued when a stop closed the pool: the client may send it again.
      new Error('Cannot use a pool after calling end on the pool'),
      new mongo.MongoNetworkError('socket closed'),
      new mongo.MongoNotConnectedError('not connected'),
      new mongo.MongoTopologyClosedError('topology closed'),
      new mongo.MongoServerClosedError(),
      new mongo.MongoClientClosedError(),
      new mongoose.Error.MongooseServerSelectionError('Server selection timed out after 30000 ms'),
    ];
    expect(outages.filter((error) => !isStoreUnreachable(error)).map((error) => error.name)).toEqual([]);
  });

  it('leaves other failures to be answered as what they are', () => {
    const others = [
      new Error('boom'),
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      // The same code as a database refusing connections, for a failure that is not an outage.
      Object.assign(new Error('cannot drop the currently open database'), { code: '55000', routine: 'dropdb' }),
      Object.assign(new Error('database "parley" is not currently accepting connections'), { code: '55000' }),
      new mongo.MongoServerError({ message: 'E11000 duplicate key error', code: 11000 }),
      new mongo.MongoInvalidArgumentError('bad argument'),
    ];
    expect(others.filter((error) => isStoreUnreachable(error)).map((error) => error.message)).toEqual([]);
  });
});

describe('isOutageBeforeAnswer and isStatementTimeout', () => {
  const failed = (code: string, message = 'x') => new QueryFailedError('SELECT 1', [], Object.assign(new Error(message), { code }));

  it('tells an outage the same statement would meet again from a session ended under it, and from a wait on a lock', () => {
    const outages = [
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      failed('53300'),
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
    ];
    const ended = [
      failed('57P01'),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      failed('25P03'),
    ];
    const waited = [
      failed('57014', 'canceling statement due to statement timeout'),
      failed('55P03', 'canceling statement due to lock timeout'),
    ];
    expect(outages.map(isOutageBeforeAnswer)).toEqual([true, true, true, true]);
    expect(ended.map(isOutageBeforeAnswer)).toEqual([false, false, false, false]);
    expect(waited.map(isOutageBeforeAnswer)).toEqual([false, false]);
    expect(waited.map(isStatementTimeout)).toEqual([true, true]);
    expect([...outages, ...ended].map(isStatementTimeout)).toEqual(Array(8).fill(false));
    expect([...outages, ...ended, ...waited].every(isStoreUnreachable)).toBe(true);
  });
});
