import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseMailbox } from '../common/mail-address.js';
import { ConfigError, EnvReader, type Env, redact } from './env-reader.js';
import { type FeatureModuleName, missingRequirements, readModules } from './modules.config.js';

export type AppEnv = 'LOCAL' | 'PRODUCTION';
export type LogFormat = 'pretty' | 'json';
export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';

export interface HttpConfig {
  port: number;
  /** The origin links in emails and the WebSocket cookie check use. */
  publicUrl: string;
  corsOrigins: string[];
  /** Largest JSON body accepted, in bytes. */
  jsonBodyLimit: number;
  /**
   * Which proxies' X-Forwarded-For to believe (Express `trust proxy`), since client IPs feed rate
   * limits and sessions: true (every hop), a number of hops, or a list of addresses, subnets and names.
   */
  trustProxy: boolean | number | string;
}

export interface DatabaseConfig {
  /** A PostgreSQL URL, or undefined for the embedded database under DATA_DIR. */
  url: string | undefined;
  /** Directory of the embedded database, used when url is undefined. */
  embeddedDir: string;
  poolSize: number;
  /** DATABASE_QUERY_TIMEOUT in seconds: how long one statement may take before it fails (503 to the client). */
  queryTimeoutSeconds: number;
  /** Where chats and messages live; users and sessions stay in the database above either way. */
  messageStore: 'postgres' | 'mongo';
  /** MONGODB_URI as given (a replica set: the Mongo store uses transactions); required when messageStore is mongo. */
  mongodbUri: string | undefined;
}

export interface S3Config {
  endPoint: string;
  port: number | undefined;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

export interface StorageConfig {
  s3: S3Config | undefined;
  /** Directory for files when S3 is not configured. */
  localDir: string;
}

export interface MailConfig {
  smtpUrl: string | undefined;
  from: string;
  /** Directory of .eml files when SMTP is not configured. */
  outboxDir: string;
  /** First retry delay of a failed send; later retries back off from it. 0 retries at once (tests). */
  retryBaseSeconds: number;
}

export interface AuthConfig {
  accessSecret: string;
  refreshSecret: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  rateLimitPerIp: number;
  rateLimitPerAccount: number;
}

/** Per-user limits, each a number per minute (a token bucket that size, refilled at that rate). */
export interface UserLimitsConfig {
  messagesPerUser: number;
  chatsPerUser: number;
  syncChatsPerUser: number;
  searchPerUser: number;
  readsPerUser: number;
  uploadsPerUser: number;
}

export const DEV_ACCESS_SECRET = 'parley-dev-access-secret-change-me';
export const DEV_REFRESH_SECRET = 'parley-dev-refresh-secret-change-me';

/** The whole validated configuration; provided to every module under this class as its token. */
export class AppConfig {
  constructor(
    readonly appEnv: AppEnv,
    readonly modules: ReadonlySet<FeatureModuleName>,
    readonly dataDir: string,
    readonly http: HttpConfig,
    readonly database: DatabaseConfig,
    readonly redis: { url: string | undefined; prefix: string },
    readonly storage: StorageConfig,
    readonly mail: MailConfig,
    readonly auth: AuthConfig,
    readonly limits: UserLimitsConfig,
    readonly log: { level: LogLevel; format: LogFormat },
  ) {}

  get isLocal(): boolean {
    return this.appEnv === 'LOCAL';
  }

  isEnabled(module: FeatureModuleName): boolean {
    return this.modules.has(module);
  }

  /** Whether the message store (MESSAGE_STORE) is used at all (see messageStoreInUse). */
  get usesMessageStore(): boolean {
    return messageStoreInUse(this.modules);
  }

  /** Lines for the start banner: which embedded defaults are in use. */
  describeBackends(): Record<string, string> {
    return {
      database: this.database.url
        ? `PostgreSQL ${redact(this.database.url)}`
        : `embedded PostgreSQL (PGlite) in ${this.database.embeddedDir}`,
      messageStore: !this.usesMessageStore
        ? 'not used (MODULES leaves out chats and messages)'
        : this.database.messageStore === 'mongo'
          ? `MongoDB ${redact(this.database.mongodbUri ?? '')}`
          : this.database.mongodbUri
            ? 'the database above (MONGODB_URI is ignored: set MESSAGE_STORE=mongo to use it)'
            : 'the database above',
      fanOut: this.redis.url ? `Redis ${redact(this.redis.url)} (keys ${this.redis.prefix}…)` : 'in-process (single instance)',
      objectStorage: this.storage.s3
        ? `S3 ${this.storage.s3.endPoint} bucket ${this.storage.s3.bucket}`
        : `local files in ${this.storage.localDir}`,
      mail: !this.isEnabled('notify')
        ? 'off (MODULES leaves out notify)'
        : this.mail.smtpUrl
          ? `SMTP ${redact(this.mail.smtpUrl)}`
          : `.eml files in ${this.mail.outboxDir}`,
    };
  }
}

const DEFAULT_MAIL_FROM = 'Parley <no-reply@parley.local>';

/** MAIL_FROM: one address, with or without a display name; a mail server would refuse anything else. */
function readMailFrom(read: EnvReader): string {
  const raw = read.string('MAIL_FROM', DEFAULT_MAIL_FROM);
  if (!parseMailbox(raw)) {
    read.problem(
      `MAIL_FROM=${JSON.stringify(raw)} is not one email address; write it as an address (no-reply@example.com) or a name and an address (Parley <no-reply@example.com>).`,
    );
    return DEFAULT_MAIL_FROM;
  }
  return raw;
}

/** A host name (letters, digits, hyphens, underscores as in Docker service names, dots; IDNs arrive as punycode) or an IP address: what a browser sends in Origin. */
const HOST_NAME = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?)$/i;

/**
 * A warning for a deployment that meant production and runs as LOCAL: NODE_ENV=production (as the
 * Docker image sets it) with APP_ENV unset. LOCAL seeds accounts with the password "admin", signs
 * tokens with development secrets anyone can read in this repository, and sends cookies without
 * Secure; it is what the image runs unless told otherwise, so this is said, not refused.
 */
export function localUnderProductionWarning(env: Env): string | undefined {
  if (env.NODE_ENV?.trim().toLowerCase() !== 'production' || env.APP_ENV?.trim()) return undefined;
  return 'APP_ENV is unset, so this server runs as LOCAL although NODE_ENV=production: it seeds accounts with the password "admin" (when seeding runs), signs tokens with the development secrets (anyone can forge them) unless JWT_* are set, and sends cookies without Secure. Set APP_ENV=PRODUCTION (with PUBLIC_URL and the JWT_* secrets) to deploy, or APP_ENV=LOCAL to say this is a trial.';
}

/**
 * Builds the configuration from the environment, or throws a ConfigError naming every bad
 * variable. `asked` collects the names it read.
 */
export function loadConfig(env: Env = process.env, asked?: Set<string>): AppConfig {
  const read = new EnvReader(env, asked);

  const appEnv = read.oneOf('APP_ENV', ['LOCAL', 'PRODUCTION'] as const, 'LOCAL', (s) => s.toUpperCase());
  const modules = readModules(read);
  const dataDir = resolve(read.string('DATA_DIR', './data'));
  // Each area in turn: the problems are listed in this order.
  const { http, publicUrlGiven } = readHttp(read);
  const database = readDatabase(read, modules, dataDir);
  const redis = readRedis(read);
  const storage: StorageConfig = { s3: readS3(read), localDir: resolve(dataDir, 'files') };
  const mail = readMail(read, dataDir);
  const auth = readAuth(read);
  const limits = readLimits(read);
  if (appEnv === 'PRODUCTION') checkProductionNeeds(read, auth, { modules, publicUrlGiven, port: http.port });
  checkSecrets(read, auth);
  const log = {
    level: read.oneOf('LOG_LEVEL', ['error', 'warn', 'log', 'debug', 'verbose'] as const, 'log', (s) => s.toLowerCase()),
    format: read.oneOf('LOG_FORMAT', ['pretty', 'json'] as const, appEnv === 'LOCAL' ? 'pretty' : 'json', (s) => s.toLowerCase()),
  };

  const problems = [...read.problems, ...missingRequirements(modules)];
  if (problems.length > 0) throw new ConfigError(problems);

  return new AppConfig(appEnv, modules, dataDir, http, database, redis, storage, mail, auth, limits, log);
}

/**
 * What `url` has beyond its origin (scheme, host and port): a path, query or fragment; else a user
 * name or password; else nothing.
 */
function beyondOrigin(url: URL): 'path' | 'credentials' | undefined {
  if (url.pathname !== '/' || url.search || url.hash) return 'path';
  if (url.username || url.password) return 'credentials';
  return undefined;
}

/** PORT, PUBLIC_URL, CORS_ORIGINS, TRUST_PROXY; and whether PUBLIC_URL was given (PRODUCTION needs it). */
function readHttp(read: EnvReader): { http: HttpConfig; publicUrlGiven: boolean } {
  const port = read.int('PORT', 3000, { min: 0, max: 65535 });
  const publicUrlRaw = read.url('PUBLIC_URL', ['http', 'https']);
  if (publicUrlRaw) {
    const beyond = beyondOrigin(publicUrlRaw);
    if (beyond === 'path')
      read.problem(
        `PUBLIC_URL must be an origin (scheme, host and port if any), got ${JSON.stringify(redact(publicUrlRaw.href))}: Parley serves its pages, API and emails' links from the root of it, so serve it at the root of a host (e.g. https://chat.example.com), not under a path.`,
      );
    else if (beyond === 'credentials')
      read.problem(`PUBLIC_URL holds a user name or password, which no link may carry; give only the origin, e.g. ${publicUrlRaw.origin}.`);
  }
  const corsOrigins: string[] = [];
  for (const origin of read.list('CORS_ORIGINS') ?? []) {
    // new URL('localhost:3000') parses, as the origin "null": only http(s) origins are origins here.
    const parsed = URL.canParse(origin) ? new URL(origin) : undefined;
    const isOrigin =
      parsed &&
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.origin !== 'null' &&
      HOST_NAME.test(parsed.hostname);
    // A path, query or credentials would be dropped without a word (a browser's Origin has none): said instead.
    if (isOrigin && beyondOrigin(parsed))
      read.problem(
        `CORS_ORIGINS contains ${JSON.stringify(origin)}, which has more than an origin (a path, query or user); list it as ${parsed.origin}.`,
      );
    else if (isOrigin) corsOrigins.push(parsed.origin);
    else
      read.problem(
        `CORS_ORIGINS contains ${JSON.stringify(origin)}, which is not an origin; list origins like https://chat.example.com (scheme, host and port if any), separated by commas.`,
      );
  }
  const http: HttpConfig = {
    port,
    publicUrl: publicUrlRaw?.origin ?? `http://localhost:${port}`,
    corsOrigins,
    jsonBodyLimit: 1024 * 1024,
    trustProxy: readTrustProxy(read),
  };
  return { http, publicUrlGiven: publicUrlRaw !== undefined };
}

/** DATABASE_URL, DATABASE_POOL_SIZE, DATABASE_QUERY_TIMEOUT, MESSAGE_STORE and MONGODB_URI. */
function readDatabase(read: EnvReader, modules: ReadonlySet<FeatureModuleName>, dataDir: string): DatabaseConfig {
  const databaseUrl = read.url('DATABASE_URL', ['postgres', 'postgresql']);
  const messageStore = read.oneOf('MESSAGE_STORE', ['postgres', 'mongo'] as const, 'postgres', (s) => s.toLowerCase());
  const mongodbUri = readMongodbUri(read);
  // Without the modules that use it, nothing connects to the message store.
  if (messageStore === 'mongo' && !read.has('MONGODB_URI') && messageStoreInUse(modules)) {
    read.problem(
      'MESSAGE_STORE=mongo needs MONGODB_URI: set it to a MongoDB replica set (the store uses transactions, which need one; a single node is fine), e.g. mongodb://127.0.0.1:27017/parley?replicaSet=rs0, or unset MESSAGE_STORE to keep chats and messages in PostgreSQL.',
    );
  }
  return {
    url: databaseUrl?.toString(),
    embeddedDir: resolve(dataDir, 'pgdata'),
    poolSize: read.int('DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    queryTimeoutSeconds: read.duration('DATABASE_QUERY_TIMEOUT', '15s', 2),
    messageStore,
    mongodbUri,
  };
}

/** REDIS_URL and REDIS_PREFIX. */
function readRedis(read: EnvReader): { url: string | undefined; prefix: string } {
  const redisUrl = read.url('REDIS_URL', ['redis', 'rediss'], { needsHost: true });
  // The database number, in the path or as ?db=: ioredis takes anything there (`/abc` as NaN,
  // which Redis refuses in a way ioredis does not catch; `/1.5` as 1).
  const redisDb = redisUrl && [redisUrl.pathname.replace(/^\//, ''), redisUrl.searchParams.get('db')].find((part) => part);
  if (redisDb && !/^\d{1,5}$/.test(redisDb))
    read.problem(
      `REDIS_URL names the database ${JSON.stringify(redisDb)}, which is not a database number; write it as a whole number (redis://host:6379/2), or leave it out for database 0.`,
    );
  const redis = {
    url: redisUrl?.toString(),
    prefix: read.string('REDIS_PREFIX', 'parley:'),
  };
  if (!/^[A-Za-z0-9:._-]{0,63}:$/.test(redis.prefix))
    read.problem(
      `REDIS_PREFIX=${JSON.stringify(redis.prefix)} is not up to 64 letters, digits or ":._-" ending in ":"; use e.g. "parley-staging:" (it starts every Redis key and the fan-out channel, so deployments sharing one Redis stay apart).`,
    );
  return redis;
}

/** SMTP_URL, MAIL_FROM and MAIL_RETRY_BASE_SECONDS. */
function readMail(read: EnvReader, dataDir: string): MailConfig {
  const smtpParsed = read.url('SMTP_URL', ['smtp', 'smtps'], { needsHost: true });
  // A pool resends a message whose connection broke mid-send by itself, which the mail log does
  // with backoff and a count of attempts (and never early, when the server may have taken it).
  if (smtpParsed?.searchParams.has('pool'))
    read.problem(
      'SMTP_URL asks for a connection pool (?pool=…), which Parley does not use: it sends one email at a time and retries on its own; leave pool out.',
    );
  return {
    smtpUrl: smtpParsed?.toString(),
    from: readMailFrom(read),
    outboxDir: resolve(dataDir, 'outbox'),
    retryBaseSeconds: read.int('MAIL_RETRY_BASE_SECONDS', 30, { min: 0, max: 3600 }),
  };
}

/** The token secrets and lifetimes, and the auth rate limits. */
function readAuth(read: EnvReader): AuthConfig {
  const auth: AuthConfig = {
    accessSecret: read.string('JWT_ACCESS_SECRET', DEV_ACCESS_SECRET),
    refreshSecret: read.string('JWT_REFRESH_SECRET', DEV_REFRESH_SECRET),
    accessTtlSeconds: read.duration('ACCESS_TOKEN_TTL', '15m', 1),
    refreshTtlSeconds: read.duration('REFRESH_TOKEN_TTL', '30d', 60),
    rateLimitPerIp: read.int('RATE_LIMIT_AUTH_PER_IP', 60, { min: 1, max: 1_000_000 }),
    rateLimitPerAccount: read.int('RATE_LIMIT_AUTH_PER_ACCOUNT', 10, { min: 1, max: 1_000_000 }),
  };
  if (auth.accessTtlSeconds > auth.refreshTtlSeconds)
    read.problem(
      `ACCESS_TOKEN_TTL (${auth.accessTtlSeconds} s) is longer than REFRESH_TOKEN_TTL (${auth.refreshTtlSeconds} s): an access token would outlive the sign-in it came from. Make the access token the short-lived one (minutes), and the refresh token the long one (days).`,
    );
  return auth;
}

/** The per-user limits (RATE_LIMIT_*_PER_USER). */
function readLimits(read: EnvReader): UserLimitsConfig {
  return {
    messagesPerUser: read.int('RATE_LIMIT_MESSAGES_PER_USER', 120, { min: 1, max: 1_000_000 }),
    chatsPerUser: read.int('RATE_LIMIT_CHATS_PER_USER', 30, { min: 1, max: 1_000_000 }),
    syncChatsPerUser: read.int('RATE_LIMIT_SYNC_CHATS_PER_USER', 3000, { min: 1, max: 10_000_000 }),
    searchPerUser: read.int('RATE_LIMIT_SEARCH_PER_USER', 60, { min: 1, max: 1_000_000 }),
    readsPerUser: read.int('RATE_LIMIT_READS_PER_USER', 600, { min: 1, max: 1_000_000 }),
    uploadsPerUser: read.int('RATE_LIMIT_UPLOADS_PER_USER', 10, { min: 1, max: 1_000_000 }),
  };
}

/** Only chats and messages live in the message store (MESSAGE_STORE): with neither running, nothing uses it. */
function messageStoreInUse(modules: ReadonlySet<FeatureModuleName>): boolean {
  return modules.has('chats') || modules.has('messages');
}

/** The token secrets, by the variables they come from. */
const secretsOf = (auth: AuthConfig) =>
  [
    ['JWT_ACCESS_SECRET', auth.accessSecret],
    ['JWT_REFRESH_SECRET', auth.refreshSecret],
  ] as const;

/**
 * What PRODUCTION asks for, only where a module running uses it: the public origin (email links,
 * the WebSocket cookie check) and secrets of its own.
 */
function checkProductionNeeds(
  read: EnvReader,
  auth: AuthConfig,
  { modules, publicUrlGiven, port }: { modules: ReadonlySet<FeatureModuleName>; publicUrlGiven: boolean; port: number },
): void {
  if (!publicUrlGiven && (modules.has('auth') || modules.has('notify')))
    read.problem(
      `APP_ENV=PRODUCTION needs PUBLIC_URL, the origin users reach this server at (e.g. https://chat.example.com): links in emails are built from it, and without it they would point at http://localhost:${port}.`,
    );
  // Either default, in either variable: both are public.
  for (const [name, secret] of secretsOf(auth)) {
    if (modules.has('auth') && (secret === DEV_ACCESS_SECRET || secret === DEV_REFRESH_SECRET))
      read.problem(`APP_ENV=PRODUCTION refuses the default ${name}; set it to a long random string (e.g. \`openssl rand -hex 32\`).`);
  }
}

/** Anywhere: secrets that are secrets (long enough, not a placeholder, one of each). */
function checkSecrets(read: EnvReader, auth: AuthConfig): void {
  for (const [name, secret] of secretsOf(auth)) {
    if (secret.length < 16)
      read.problem(`${name} is ${secret.length} characters long; use at least 16 (32+ random characters recommended).`);
    else if (/^<.*>$/.test(secret))
      read.problem(`${name} looks like a placeholder (<…>); set it to a long random string (e.g. \`openssl rand -hex 32\`).`);
  }
  if (auth.accessSecret === auth.refreshSecret)
    read.problem('JWT_ACCESS_SECRET and JWT_REFRESH_SECRET are the same; give each its own secret.');
}

/**
 * A mongodb:// or mongodb+srv:// URL with at least a host. Only that much is checked here: a
 * replica set URL lists several hosts (h1:27017,h2:27017), which URL() cannot parse, and the
 * driver names anything else wrong when it connects.
 */
function readMongodbUri(read: EnvReader): string | undefined {
  const raw = read.string('MONGODB_URI');
  if (raw === undefined) return undefined;
  if (!/^mongodb(\+srv)?:\/\/[^/?#\s]+/.test(raw)) {
    read.problem(
      `MONGODB_URI must be a mongodb:// or mongodb+srv:// URL such as mongodb://127.0.0.1:27017/parley?replicaSet=rs0, got ${JSON.stringify(redact(raw))}.`,
    );
    return undefined;
  }
  // Parley reads back what it has just written (a chat's members, a message's seq): a secondary
  // answers with what it has replicated so far.
  const preference = /[?&]readPreference=([^&#]*)/i.exec(raw)?.[1];
  if (preference !== undefined && preference.toLowerCase() !== 'primary') {
    read.problem(
      `MONGODB_URI asks for readPreference=${preference}: Parley reads what it has just written (a chat's members, its last seq), which a secondary may not have yet; leave readPreference out, or set it to primary.`,
    );
    return undefined;
  }
  return raw;
}

function readS3(read: EnvReader): S3Config | undefined {
  const region = read.string('S3_REGION', 'us-east-1');
  // It goes into every request's signature: a malformed one fails each call, never the start.
  // Checked with S3 off too, as every other variable set is: a bad value stops the start.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(region))
    read.problem(
      `S3_REGION=${JSON.stringify(region)} is not a region name; use letters, digits, hyphens and underscores, as in us-east-1 (the default, which MinIO takes).`,
    );
  const names = ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET'];
  const present = names.filter((n) => read.has(n));
  if (present.length === 0) return undefined;
  if (present.length < names.length) {
    const missing = names.filter((n) => !read.has(n));
    read.problem(
      `Object storage is half configured: ${present.join(', ')} set but ${missing.join(', ')} missing; set all four S3_* variables, or none to keep files under DATA_DIR.`,
    );
    return undefined;
  }
  const endpoint = read.url('S3_ENDPOINT', ['http', 'https']);
  // The client signs requests for host and port alone: a path (a proxy's prefix) would be dropped.
  if (endpoint && beyondOrigin(endpoint)) {
    read.problem(
      `S3_ENDPOINT=${JSON.stringify(redact(endpoint.toString()))} has more than a scheme, host and port; give only those (e.g. http://127.0.0.1:9000): the bucket is S3_BUCKET, the keys S3_ACCESS_KEY and S3_SECRET_KEY, and a path prefix is not supported.`,
    );
    return undefined;
  }
  const bucket = read.string('S3_BUCKET', '');
  // S3's rule for bucket names, checked with the other settings rather than at the first call.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket))
    read.problem(`S3_BUCKET=${JSON.stringify(bucket)} is not a valid bucket name; use 3-63 lowercase letters, digits, dots and hyphens.`);
  if (!endpoint) return undefined;
  return {
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : undefined,
    useSSL: endpoint.protocol === 'https:',
    accessKey: read.string('S3_ACCESS_KEY', ''),
    secretKey: read.string('S3_SECRET_KEY', ''),
    bucket,
    region,
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY as Express reads it, checked here: Express itself would fail on the first request, or misread `1`. */
function readTrustProxy(read: EnvReader): boolean | number | string {
  const raw = read.string('TRUST_PROXY', 'loopback').trim();
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^\d+$/.test(raw)) return Number(raw); // a number of hops
  const bad = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => {
      if (PROXY_NAMES.has(item)) return false;
      const [address, prefix, extra] = item.split('/');
      const family = isIP(address);
      if (family === 0 || extra !== undefined) return true;
      if (prefix === undefined) return false;
      if (family === 4 && isIP(prefix) === 4) return false; // a netmask, 10.0.0.0/255.0.0.0
      return !(/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
    });
  if (bad.length > 0)
    read.problem(
      `TRUST_PROXY=${JSON.stringify(raw)} is not understood (${bad.map((b) => JSON.stringify(b)).join(', ')}); use true, a number of proxy hops, or a comma list of addresses, subnets (10.0.0.0/8) and loopback, linklocal, uniquelocal.`,
    );
  return raw;
}
