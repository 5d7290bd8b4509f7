import { errorMessage } from './error-message.js';

describe('errorMessage', () => {
  it('says what an error says: its message, its name when it has none, the errors of an AggregateError, or the value', () => {
    expect(errorMessage(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(errorMessage(Object.assign(new Error(''), { name: 'S3Error' }))).toBe('S3Error');
    const refused = new AggregateError([new Error('connect ECONNREFUSED ::1:6379'), new Error('connect ECONNREFUSED 127.0.0.1:6379')]);
    expect(errorMessage(refused)).toBe('connect ECONNREFUSED ::1:6379; connect ECONNREFUSED 127.0.0.1:6379');
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
