/** Command-line flags of `npm run bench`, with the defaults and the --quick smoke preset. */
export interface BenchOptions {
  users: number;
  group: number;
  window: number;
  seconds: number;
  instances: 1 | 2;
  db: 'embedded' | 'postgres';
  pairs: number;
  quick: boolean;
  json: string | undefined;
  svg: string;
  cpuProf: boolean;
  /** Only the bare relay: the machine's ceiling, without Parley. */
  bareOnly: boolean;
  /** Shares of the bare relay's saturation offered in phase 2. */
  shares: number[];
  /** Auth calls in flight while signing users up and in. */
  setupConcurrency: number;
  databaseUrl: string;
  redisUrl: string;
}

export const USAGE = `npm run bench -- [flags]

  --users N        users, each with one WebSocket (default 1000; --quick 50)
  --group N        members per group chat; one active sender per chat (default 10; --quick 5)
  --window N       sends in flight per sender in phase 1 (default 8)
  --seconds N      length of each measured phase (default 20; --quick 2)
  --pairs N        bare/Parley pairs, interleaved (default 3; --quick 1)
  --db KIND        embedded | postgres (default embedded; postgres uses PostgreSQL at --database-url)
  --instances N    1 | 2; 2 runs two Parley instances behind Redis (needs --db postgres)
  --quick          a few-second smoke with a small workload (what CI runs)
  --json FILE      also write the results as JSON
  --svg FILE       chart (default bench-results/chart.svg)
  --cpu-prof       profile the servers phase by phase (V8's profiler) and summarise Parley's top functions
  --bare-only      run only the bare relay (this machine's ceiling for Node + ws), no Parley
  --database-url U PostgreSQL server for --db postgres (default postgres://postgres@127.0.0.1:5432/postgres);
                   the bench creates a database parley_bench_<pid> there and drops it afterwards
  --redis-url U    Redis for --instances 2 (default redis://127.0.0.1:6379)
`;

export class UsageError extends Error {}

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    users: quick ? 50 : 1000,
    group: quick ? 5 : 10,
    window: 8,
    seconds: quick ? 2 : 20,
    instances: 1,
    db: 'embedded',
    pairs: quick ? 1 : 3,
    quick,
    json: undefined,
    svg: 'bench-results/chart.svg',
    cpuProf: false,
    bareOnly: false,
    shares: [0.25, 0.5],
    setupConcurrency: 8,
    databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: 'redis://127.0.0.1:6379',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const int = (min: number, max: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not ${raw}`);
      return n;
    };
    switch (flag) {
      case '--users':
        options.users = int(2, 100_000);
        break;
      case '--group':
        options.group = int(2, 1000);
        break;
      case '--window':
        options.window = int(1, 1000);
        break;
      case '--seconds':
        options.seconds = int(1, 3600);
        break;
      case '--pairs':
        options.pairs = int(1, 100);
        break;
      case '--instances':
        options.instances = int(1, 2) as 1 | 2;
        break;
      case '--db': {
        const db = value();
        if (db !== 'embedded' && db !== 'postgres') throw new UsageError(`--db is embedded or postgres, not ${db}`);
        options.db = db;
        break;
      }
      case '--quick':
        break;
      case '--json':
        options.json = value();
        break;
      case '--svg':
        options.svg = value();
        break;
      case '--cpu-prof':
        options.cpuProf = true;
        break;
      case '--bare-only':
        options.bareOnly = true;
        break;
      case '--database-url':
        options.databaseUrl = value();
        break;
      case '--redis-url':
        options.redisUrl = value();
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown flag ${flag}`);
    }
  }
  if (options.group > options.users) throw new UsageError(`--group (${options.group}) cannot exceed --users (${options.users})`);
  if (options.instances === 2 && options.db !== 'postgres')
    throw new UsageError(
      '--instances 2 needs --db postgres: the embedded database belongs to one process, so two instances cannot share it',
    );
  return options;
}
