import { redact } from './env-reader.js';

describe('redact', () => {
  it('hides a password in the userinfo and in the query, where the drivers take one too', () => {
    expect(redact('postgres://parley:s3cret@db:5432/parley')).toBe('postgres://parley:***@db:5432/parley');
    expect(redact('postgres://parley@db:5432/parley?password=PgQuerySecret&sslmode=require')).toBe(
      'postgres://parley@db:5432/parley?password=***&sslmode=require',
    );
    expect(redact('redis://127.0.0.1:6379/?password=RedisSecret')).toBe('redis://127.0.0.1:6379/?password=***');
    expect(redact('smtp://mail:587/?user=robot&pass=SmtpSecret')).toBe('smtp://mail:587/?user=robot&pass=***');
    expect(redact('mongodb://h:27017/parley?replicaSet=rs0&authSource=admin')).toBe(
      'mongodb://h:27017/parley?replicaSet=rs0&authSource=admin',
    );
  });

  it('hides them in what the URL parser does not take, too', () => {
    expect(redact('smtp://[bad/?pass=S&passage=kept&client_secret=C')).toBe('smtp://[bad/?pass=***&passage=kept&client_secret=***');
    expect(redact('postgres://u:p@[bad/x?password=QuerySecret')).toBe('postgres://u:***@[bad/x?password=***');
  });

  it('leaves a URL without secrets as it is', () => {
    expect(redact('postgres://postgres@127.0.0.1:5432/parley?sslmode=disable')).toBe(
      'postgres://postgres@127.0.0.1:5432/parley?sslmode=disable',
    );
  });
});
