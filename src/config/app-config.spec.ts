import { ConfigError } from './env-reader.js';
import { DEV_ACCESS_SECRET, DEV_REFRESH_SECRET, loadConfig, localUnderProductionWarning } from './app-config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs on embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.appEnv).toBe('LOCAL');
    expect(config.http.port).toBe(3000);
    expect(config.database.url).toBeUndefined();
    expect(config.redis).toEqual({ url: undefined, prefix: 'parley:' });
    expect(config.storage.s3).toBeUndefined();
    expect(config.mail.smtpUrl).toBeUndefined();
    expect(config.auth.accessTtlSeconds).toBe(15 * 60);
    expect(config.auth.refreshTtlSeconds).toBe(30 * 86400);
    expect([...config.modules].sort()).toEqual(['auth', 'chats', 'health', 'messages', 'notify', 'seeding', 'users']);
  });

  it('names the variable and the fix for each bad value, all at once', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ACCESS_TOKEN_TTL: 'soon', APP_ENV: 'staging' });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^APP_ENV="staging" is not one of LOCAL, PRODUCTION/);
    expect(problems.find((p) => p.startsWith('PORT='))).toMatch(/whole number from 0 to 65535/);
    expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toMatch(/postgres or postgresql:\/\/ URL/);
    expect(problems.find((p) => p.startsWith('ACCESS_TOKEN_TTL'))).toMatch(/not a duration/);
  });

  it('refuses a PUBLIC_URL with a path, which email links would otherwise drop without a word', () => {
    expect(problemsOf({ PUBLIC_URL: 'https://example.com/parley/' })).toEqual([
      expect.stringMatching(/^PUBLIC_URL must be an origin .*"https:\/\/example.com\/parley\/".* not under a path/),
    ]);
    expect(loadConfig({ PUBLIC_URL: 'https://example.com/' }).http.publicUrl).toBe('https://example.com');
    expect(problemsOf({ PUBLIC_URL: 'https://user:pw@example.com' })).toEqual([
      expect.stringMatching(/^PUBLIC_URL holds a user name or password.*https:\/\/example\.com\.$/),
    ]);
    expect(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:8080' }).http.publicUrl).toBe('http://127.0.0.1:8080');
  });

  it('takes MAIL_FROM as one address, with or without a name, and refuses anything a mail server would', () => {
    for (const from of [
      'no-reply@example.com',
      'Parley <no-reply@example.com>',
      '"Parley, Inc." <no-reply@example.com>',
      '"john doe"@example.com',
      'Parley <no-reply@bücher.de>',
      'no-reply@example.com (Parley)',
    ])
      expect(loadConfig({ MAIL_FROM: from }).mail.from).toBe(from);
    for (const from of [
      'Parley',
      'Parley <no-reply>',
      'a@example.com, b@example.com',
      'Parley <a@example.com>\r\nBcc: b@example.com',
      '<>',
      'no-reply@example.com>',
    ])
      expect(problemsOf({ MAIL_FROM: from })).toEqual([
        expect.stringMatching(/^MAIL_FROM=.* is not one email address; write it as an address/),
      ]);
  });

  it('never prints a password from a URL it rejects', () => {
    const [problem] = problemsOf({ REDIS_URL: 'http://user:hunter2@host' });
    expect(problem).toContain('REDIS_URL');
    expect(problem).not.toContain('hunter2');
  });

  it('asks only for the settings of the modules that run', () => {
    // Health alone under PRODUCTION: no tokens, no emails, no public origin to know.
    expect(problemsOf({ APP_ENV: 'PRODUCTION', MODULES: 'health' })).toEqual([]);
    // Without chats and messages nothing uses the message store.
    expect(problemsOf({ MESSAGE_STORE: 'mongo', MODULES: 'auth,users' })).toEqual([]);
    expect(problemsOf({ MESSAGE_STORE: 'mongo', MODULES: 'auth,users,chats' })).toEqual([
      expect.stringMatching(/^MESSAGE_STORE=mongo needs MONGODB_URI/),
    ]);
    expect(problemsOf({ APP_ENV: 'PRODUCTION', MODULES: 'notify,health' })).toEqual([
      expect.stringMatching(/^APP_ENV=PRODUCTION needs PUBLIC_URL/),
    ]);
  });

  it('refuses the default secrets in PRODUCTION', () => {
    const problems = problemsOf({ APP_ENV: 'PRODUCTION' });
    expect(problems).toEqual([
      expect.stringMatching(/^APP_ENV=PRODUCTION needs PUBLIC_URL, .* would point at http:\/\/localhost:3000/),
      expect.stringMatching(/refuses the default JWT_ACCESS_SECRET/),
      expect.stringMatching(/refuses the default JWT_REFRESH_SECRET/),
    ]);
    const ok = loadConfig({
      APP_ENV: 'production',
      PUBLIC_URL: 'https://chat.example.com',
      JWT_ACCESS_SECRET: 'a'.repeat(32),
      JWT_REFRESH_SECRET: 'b'.repeat(32),
    });
    expect(ok.appEnv).toBe('PRODUCTION');
    expect(ok.auth.accessSecret).not.toBe(DEV_ACCESS_SECRET);
    expect(ok.log.format).toBe('json');
    const swapped = problemsOf({
      APP_ENV: 'PRODUCTION',
      PUBLIC_URL: 'https://chat.example.com',
      JWT_ACCESS_SECRET: DEV_REFRESH_SECRET,
      JWT_REFRESH_SECRET: DEV_ACCESS_SECRET,
    });
    expect(swapped).toEqual([
      expect.stringMatching(/refuses the default JWT_ACCESS_SECRET/),
      expect.stringMatching(/refuses the default JWT_REFRESH_SECRET/),
    ]);
  });

  it('accepts only http(s) origins in CORS_ORIGINS, naming the one it refuses', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:5173/' }).http.corsOrigins).toEqual([
      'https://a.example.com',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ CORS_ORIGINS: 'http://[::1]:3000,http://127.0.0.1:3000,http://web_app:5173' }).http.corsOrigins).toEqual([
      'http://[::1]:3000',
      'http://127.0.0.1:3000',
      'http://web_app:5173',
    ]);
    // Two origins run together (the URL parser takes "a.example.com;https" for a host): refused, saying how to list them.
    for (const bad of ['localhost:3000', 'ftp://files.example.com', 'not an origin', 'https://a.example.com;https://b.example.com']) {
      expect(problemsOf({ CORS_ORIGINS: bad })).toEqual([
        expect.stringMatching(
          new RegExp(
            `^CORS_ORIGINS contains ${JSON.stringify(bad).replace(/[.?*+()[\]]/g, '\\$&')}, which is not an origin.*separated by commas`,
          ),
        ),
      ]);
    }
    // More than an origin is refused, not cut down without a word.
    for (const bad of ['https://a.example.com/app', 'https://a.example.com/?x=1', 'https://user@a.example.com'])
      expect(problemsOf({ CORS_ORIGINS: bad })).toEqual([
        expect.stringMatching(/which has more than an origin .*; list it as https:\/\/a\.example\.com\.$/),
      ]);
  });

  it('reads TRUST_PROXY as Express means it, and refuses what Express would misread', () => {
    expect(loadConfig({}).http.trustProxy).toBe('loopback');
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/255.0.0.0' }).http.trustProxy).toBe('10.0.0.0/255.0.0.0');
    expect(loadConfig({ TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.168.1.7' }).http.trustProxy).toBe(
      'loopback, 10.0.0.0/8, fd00::/8, 192.168.1.7',
    );
    expect(problemsOf({ TRUST_PROXY: 'yes, 10.0.0.0/40' })).toEqual([
      expect.stringMatching(/^TRUST_PROXY="yes, 10.0.0.0\/40" is not understood \("yes", "10.0.0.0\/40"\)/),
    ]);
  });

  it('refuses token lifetimes too short to use', () => {
    expect(problemsOf({ ACCESS_TOKEN_TTL: '1ms' })).toEqual([
      expect.stringMatching(/^ACCESS_TOKEN_TTL="1ms" is too short; it must be at least 1 s/),
    ]);
    expect(problemsOf({ REFRESH_TOKEN_TTL: '30s' })).toEqual([expect.stringMatching(/^REFRESH_TOKEN_TTL="30s" is too short/)]);
    expect(problemsOf({ ACCESS_TOKEN_TTL: '0s' })).toEqual([
      expect.stringMatching(/^ACCESS_TOKEN_TTL="0s" is too short; it must be at least 1 s/),
    ]);
    expect(loadConfig({ ACCESS_TOKEN_TTL: '2s' }).auth.accessTtlSeconds).toBe(2);
    expect(problemsOf({ ACCESS_TOKEN_TTL: '2h', REFRESH_TOKEN_TTL: '1h' })).toEqual([
      expect.stringMatching(/^ACCESS_TOKEN_TTL \(7200 s\) is longer than REFRESH_TOKEN_TTL \(3600 s\)/),
    ]);
    expect(loadConfig({ ACCESS_TOKEN_TTL: '1h', REFRESH_TOKEN_TTL: '1h' }).auth.refreshTtlSeconds).toBe(3600);
    // Tokens carry whole seconds, and their expiry must be a date: these started, then every sign-in failed with 500.
    expect(problemsOf({ ACCESS_TOKEN_TTL: '1500ms' })).toEqual([
      expect.stringMatching(/^ACCESS_TOKEN_TTL="1500ms" is not a whole number of seconds/),
    ]);
    expect(problemsOf({ REFRESH_TOKEN_TTL: '99999999d', ACCESS_TOKEN_TTL: '9999999999d' })).toEqual([
      expect.stringMatching(/^ACCESS_TOKEN_TTL="9999999999d" is too long; it must be at most 3650d/),
      expect.stringMatching(/^REFRESH_TOKEN_TTL="99999999d" is too long/),
    ]);
    expect(loadConfig({ ACCESS_TOKEN_TTL: '2000ms', REFRESH_TOKEN_TTL: '3650d' }).auth).toMatchObject({
      accessTtlSeconds: 2,
      refreshTtlSeconds: 3650 * 86_400,
    });
  });

  it('refuses a module whose requirement is switched off, naming both', () => {
    expect(problemsOf({ MODULES: 'auth,users,messages' })).toEqual([expect.stringMatching(/"messages" module needs the "chats" module, /)]);
    // Everything at once: what messages needs through chats too, so that one fix is enough.
    expect(problemsOf({ MODULES: 'messages' })).toEqual([
      'MODULES: the "messages" module needs the "auth", "users" and "chats" modules, which are switched off; add auth,users,chats to MODULES or remove messages.',
    ]);
    expect(loadConfig({ MODULES: 'messages,auth,users,chats' }).modules.size).toBe(4);
    expect(problemsOf({ MODULES: 'health,nonsense' })).toEqual([expect.stringMatching(/unknown module "nonsense"/)]);
    expect(problemsOf({ MODULES: ' , ' })).toEqual([expect.stringMatching(/^MODULES lists no module; /)]);
    expect(problemsOf({ MODULES: 'all,all' })).toHaveLength(1);
    // Only that: not what the other names would need on their own.
    for (const modules of ['all,health', 'all,auth', 'seeding,all'])
      expect(problemsOf({ MODULES: modules })).toEqual([
        expect.stringMatching(/^MODULES lists "all" among other modules; write "all" alone/),
      ]);
    expect([...loadConfig({ MODULES: 'health' }).modules]).toEqual(['health']);
  });

  it('refuses an S3_BUCKET or S3_REGION that S3 would refuse, and a secret left as a placeholder', () => {
    const s3 = { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's' };
    expect(problemsOf({ ...s3, S3_BUCKET: 'Under_Score' })).toEqual([
      expect.stringMatching(/^S3_BUCKET="Under_Score" is not a valid bucket name/),
    ]);
    expect(problemsOf({ ...s3, S3_BUCKET: 'parley-avatars.1' })).toEqual([]);
    expect(problemsOf({ ...s3, S3_BUCKET: '192.168.1.10' })).toEqual([expect.stringMatching(/is not a valid bucket name/)]);
    expect(problemsOf({ ...s3, S3_BUCKET: 'parley', S3_REGION: 'bad region!' })).toEqual([
      expect.stringMatching(/^S3_REGION="bad region!" is not a region name; use letters, digits/),
    ]);
    expect(problemsOf({ ...s3, S3_BUCKET: 'parley', S3_REGION: 'eu-central-1' })).toEqual([]);
    // With object storage off too: every variable set is checked.
    expect(problemsOf({ S3_REGION: 'us/east' })).toEqual([expect.stringMatching(/^S3_REGION="us\/east" is not a region name/)]);
    expect(problemsOf({ JWT_ACCESS_SECRET: 'a-generated<secret>with>symbols!' })).toEqual([]);
    expect(problemsOf({ JWT_ACCESS_SECRET: '<64 hex characters>' })).toEqual([
      expect.stringMatching(/^JWT_ACCESS_SECRET looks like a placeholder/),
    ]);
  });

  it('wants all four S3 variables or none', () => {
    expect(problemsOf({ S3_ENDPOINT: 'http://localhost:9000' })).toEqual([
      expect.stringMatching(/half configured.*S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET missing/),
    ]);
    const s3 = loadConfig({ S3_ENDPOINT: 'https://s3.example.com:9443', S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's', S3_BUCKET: 'bkt' }).storage
      .s3;
    expect(s3).toMatchObject({ endPoint: 's3.example.com', port: 9443, useSSL: true, bucket: 'bkt' });
  });

  it('refuses an S3_ENDPOINT with more than scheme, host and port, which the client would drop', () => {
    const s3 = { S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's', S3_BUCKET: 'bkt' };
    expect(problemsOf({ ...s3, S3_ENDPOINT: 'http://127.0.0.1:9000/' })).toEqual([]);
    for (const endpoint of ['http://127.0.0.1:9000/s3', 'http://127.0.0.1:9000/bkt/', 'http://host?x=1', 'http://key:hunter2@host'])
      expect(problemsOf({ ...s3, S3_ENDPOINT: endpoint })).toEqual([
        expect.stringMatching(/^S3_ENDPOINT=.* has more than a scheme, host and port; give only those/),
      ]);
    expect(problemsOf({ ...s3, S3_ENDPOINT: 'http://key:hunter2@host' })[0]).not.toContain('hunter2');
    expect(problemsOf({ ...s3, S3_ENDPOINT: 'http://:hunter2@host' })).toEqual([expect.stringMatching(/^S3_ENDPOINT=.* has more than/)]);
  });

  it('refuses a REDIS_URL or SMTP_URL without a host, whose client would quietly use localhost', () => {
    expect(problemsOf({ REDIS_URL: 'redis://', SMTP_URL: 'smtp:///' })).toEqual([
      'REDIS_URL="redis://" names no host; write it as redis://host:port….',
      'SMTP_URL="smtp:///" names no host; write it as smtp://host:port….',
    ]);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/2', SMTP_URL: 'smtp://mail:1025' }).redis.url).toBe('redis://127.0.0.1:6379/2');
    expect(problemsOf({ SMTP_URL: 'smtp://mail:25?pool=true' })).toEqual([expect.stringMatching(/^SMTP_URL asks for a connection pool/)]);
    // PostgreSQL's own URLs may leave the host to a query parameter (a Unix socket).
    expect(problemsOf({ DATABASE_URL: 'postgres:///parley?host=/var/run/postgresql' })).toEqual([]);
  });

  it('reads the mail retry base delay, 30 seconds unless MAIL_RETRY_BASE_SECONDS says otherwise', () => {
    expect(loadConfig({}).mail.retryBaseSeconds).toBe(30);
    expect(loadConfig({ MAIL_RETRY_BASE_SECONDS: '0' }).mail.retryBaseSeconds).toBe(0);
    expect(problemsOf({ MAIL_RETRY_BASE_SECONDS: '-1' })).toEqual([
      expect.stringMatching(/^MAIL_RETRY_BASE_SECONDS="-1" is not a whole number from 0 to 3600/),
    ]);
  });

  it('reads the per-user limits (per minute), with defaults, and refuses zero', () => {
    expect(loadConfig({}).limits).toEqual({
      messagesPerUser: 120,
      chatsPerUser: 30,
      syncChatsPerUser: 3000,
      searchPerUser: 60,
      readsPerUser: 600,
      uploadsPerUser: 10,
    });
    expect(loadConfig({ RATE_LIMIT_MESSAGES_PER_USER: '600' }).limits.messagesPerUser).toBe(600);
    expect(problemsOf({ RATE_LIMIT_UPLOADS_PER_USER: '0' })).toEqual([
      expect.stringMatching(/^RATE_LIMIT_UPLOADS_PER_USER="0" is not a whole number from 1/),
    ]);
  });

  it('reads REDIS_PREFIX, parley: unless set, and refuses one Redis key names would trip over', () => {
    expect(loadConfig({ REDIS_PREFIX: 'parley-staging:' }).redis.prefix).toBe('parley-staging:');
    expect(problemsOf({ REDIS_PREFIX: 'has space:' })).toEqual([
      expect.stringMatching(/^REDIS_PREFIX="has space:" is not up to 64 letters/),
    ]);
    expect(problemsOf({ REDIS_PREFIX: 'staging' })).toEqual([expect.stringMatching(/ending in ":"; use e.g. "parley-staging:"/)]);
  });

  it('keeps chats and messages in PostgreSQL unless MESSAGE_STORE says mongo', () => {
    expect(loadConfig({}).database.messageStore).toBe('postgres');
    // docker compose sets MONGODB_URI for everyone; on its own it changes nothing.
    const ignoring = loadConfig({ MONGODB_URI: 'mongodb://mongo:27017/parley' });
    expect(ignoring.database.messageStore).toBe('postgres');
    // ... which the start banner says, in case someone expected it to.
    expect(ignoring.describeBackends().messageStore).toBe('the database above (MONGODB_URI is ignored: set MESSAGE_STORE=mongo to use it)');
    expect(loadConfig({}).describeBackends().messageStore).toBe('the database above');
    expect(problemsOf({ MESSAGE_STORE: 'sqlite' })).toEqual([
      expect.stringMatching(/^MESSAGE_STORE="sqlite" is not one of postgres, mongo/),
    ]);
  });

  it('wants MONGODB_URI with MESSAGE_STORE=mongo, and says how to set it', () => {
    expect(problemsOf({ MESSAGE_STORE: 'mongo' })).toEqual([
      expect.stringMatching(/^MESSAGE_STORE=mongo needs MONGODB_URI: .*replicaSet=rs0.*or unset MESSAGE_STORE/),
    ]);
    const config = loadConfig({ MESSAGE_STORE: 'Mongo', MONGODB_URI: 'mongodb://127.0.0.1:27017/parley?replicaSet=rs0' });
    expect(config.database).toMatchObject({ messageStore: 'mongo', mongodbUri: 'mongodb://127.0.0.1:27017/parley?replicaSet=rs0' });
  });

  it('accepts replica set and SRV URLs in MONGODB_URI and refuses other schemes without printing the password', () => {
    const hosts = 'mongodb://parley:secret@db1:27017,db2:27017,db3:27017/parley?replicaSet=rs0&authSource=admin';
    expect(loadConfig({ MESSAGE_STORE: 'mongo', MONGODB_URI: hosts }).database.mongodbUri).toBe(hosts);
    expect(loadConfig({ MESSAGE_STORE: 'mongo', MONGODB_URI: 'mongodb+srv://cluster0.example.net/parley' }).database.mongodbUri).toBe(
      'mongodb+srv://cluster0.example.net/parley',
    );
    const [problem] = problemsOf({ MESSAGE_STORE: 'mongo', MONGODB_URI: 'postgres://parley:hunter2@db/parley' });
    expect(problem).toMatch(/^MONGODB_URI must be a mongodb:\/\/ or mongodb\+srv:\/\/ URL/);
    expect(problem).not.toContain('hunter2');
    expect(problemsOf({ MONGODB_URI: 'mongodb://' })).toEqual([expect.stringMatching(/^MONGODB_URI must be/)]);
  });

  it('refuses a REDIS_URL whose database is not a whole number, in the path or as db=', () => {
    for (const url of [
      'redis://127.0.0.1:6379/abc',
      'redis://127.0.0.1:6379/1.5',
      'redis://127.0.0.1:6379/?db=abc',
      'redis://127.0.0.1:6379/-1',
    ])
      expect(problemsOf({ REDIS_URL: url })).toEqual([
        expect.stringMatching(/^REDIS_URL names the database ".*", which is not a database number; /),
      ]);
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/3', 'redis://127.0.0.1:6379?db=2'])
      expect(loadConfig({ REDIS_URL: url }).redis.url).toBe(new URL(url).toString());
  });

  it('refuses a MONGODB_URI that reads from secondaries, saying why', () => {
    const secondary = 'mongodb://db1:27017,db2:27017/parley?replicaSet=rs0&readPreference=secondaryPreferred';
    expect(problemsOf({ MESSAGE_STORE: 'mongo', MONGODB_URI: secondary })).toEqual([
      expect.stringMatching(/^MONGODB_URI asks for readPreference=secondaryPreferred: .*leave readPreference out, or set it to primary\.$/),
    ]);
    const primary = 'mongodb://db1:27017/parley?replicaSet=rs0&readPreference=primary';
    expect(loadConfig({ MESSAGE_STORE: 'mongo', MONGODB_URI: primary }).database.mongodbUri).toBe(primary);
  });
});

describe('localUnderProductionWarning', () => {
  it('warns when NODE_ENV=production runs as LOCAL because APP_ENV is unset, and only then', () => {
    expect(localUnderProductionWarning({ NODE_ENV: 'production' })).toMatch(
      /^APP_ENV is unset, so this server runs as LOCAL although NODE_ENV=production/,
    );
    expect(localUnderProductionWarning({ NODE_ENV: 'Production', APP_ENV: ' ' })).toEqual(expect.any(String));
    expect(localUnderProductionWarning({ NODE_ENV: 'production', APP_ENV: 'LOCAL' })).toBeUndefined();
    expect(localUnderProductionWarning({ NODE_ENV: 'production', APP_ENV: 'PRODUCTION' })).toBeUndefined();
    expect(localUnderProductionWarning({})).toBeUndefined();
  });
});
