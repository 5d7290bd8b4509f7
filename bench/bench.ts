/**
 * `npm run bench`: Parley under a fixed chat workload, side by side with a bare `ws` relay started
 * by the same run, so every figure comes with a Parley/bare ratio measured minutes apart on the
 * same (shared, noisy) machine. See docs/bench.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { renderChart } from './chart.js';
import { GcLog, type GcSummary, watchGc } from './gc-log.js';
import { LoadClient, type PhaseResult } from './load.js';
import { type BenchOptions, USAGE, UsageError, parseOptions } from './options.js';
import { setUpParley, storedCounts } from './parley-setup.js';
import { renderProfile, summariseProfile } from './profile.js';
import { type BenchReport, type SystemName, type SystemRun, judgeTargets, pairRatios, renderTable, summarise, toJson } from './report.js';
import {
  type MemorySnapshot,
  ServerProcess,
  createDatabase,
  dropDatabase,
  freePort,
  machineBusySeconds,
  processesCpuSeconds,
  queryScalar,
} from './servers.js';
import { type Topology, bareTopology, catchUpUsers, postBareRooms } from './topology.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DIST = resolve(ROOT, 'dist');
/** Process names whose CPU counts as "database" in the figures (PostgreSQL backends, Redis). */
const DATABASE_PROCESSES = new Set(['postgres', 'redis-server']);

class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private lastPrinted = 0;
  private shown = false;

  /** The one progress line: rewritten in place on a terminal, printed every few seconds otherwise (CI logs). */
  update(text: string): void {
    if (this.tty) {
      const width = (process.stderr.columns ?? 120) - 1;
      process.stderr.write('\r' + text.slice(0, width).padEnd(width));
      this.shown = true;
    } else if (performance.now() - this.lastPrinted > 5000) {
      process.stderr.write(text + '\n');
      this.lastPrinted = performance.now();
    }
  }

  log(text: string): void {
    if (this.shown) process.stderr.write('\r' + ' '.repeat((process.stderr.columns ?? 120) - 1) + '\r');
    this.shown = false;
    process.stderr.write(text + '\n');
  }
}

interface Context {
  options: BenchOptions;
  progress: Progress;
  tmp: string;
  profileDir: string | undefined;
  databaseUrl: string | undefined;
  running: Set<ServerProcess>;
  /** The load client of the run in progress, so an interrupt can drop its sockets. */
  client: LoadClient | undefined;
  parleyTopology: Topology;
  bareTopology: Topology;
  /** Acknowledged sends per Parley chat over all pairs: what the database must hold. */
  parleyAckedPerChat: number[];
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write((error.message ? `bench: ${error.message}\n\n` : '') + USAGE);
      return error.message ? 64 : 0;
    }
    throw error;
  }
  for (const script of ['src/main.js', 'bench/bare-relay.js']) {
    if (!existsSync(join(DIST, script)))
      throw new Error(`${join(DIST, script)} is missing; run the bench with \`npm run bench\`, which builds first.`);
  }

  const progress = new Progress();
  const startedAt = new Date();
  const tmp = mkdtempSync(join(os.tmpdir(), 'parley-bench-'));
  const profileDir = options.cpuProf ? resolve('bench-results', 'profiles', startedAt.toISOString().replace(/[:.]/g, '-')) : undefined;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    ignoreResultsDir();
  }
  const dbName = `parley_bench_${process.pid}`;
  const ctx: Context = {
    options,
    progress,
    tmp,
    profileDir,
    databaseUrl: undefined,
    running: new Set(),
    client: undefined,
    parleyTopology: { users: [], chats: [] },
    bareTopology: bareTopology(options.users, options.group),
    parleyAckedPerChat: [],
  };

  // After an interrupt, servers get 5 s to stop before SIGKILL (in-flight frames would hold them 10 s).
  const cleanup = async (graceMs?: number) => {
    ctx.client?.abort();
    await Promise.all([...ctx.running].map((s) => s.stop(graceMs)));
    if (ctx.databaseUrl)
      await dropDatabase(options.databaseUrl, dbName).catch((e) => progress.log(`could not drop ${dbName}: ${String(e)}`));
    rmSync(tmp, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    progress.log('interrupted: stopping the servers and cleaning up…');
    void cleanup(5000).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const o = options;
    progress.log(
      `Parley bench: ${o.users} users in groups of ${o.group}, window ${o.window}, ${o.seconds} s phases, ${o.pairs} pair(s), ` +
        `${o.db} database, ${o.instances} instance(s)${o.quick ? ' (quick smoke)' : ''}`,
    );
    if (o.db === 'postgres') ctx.databaseUrl = await createDatabase(o.databaseUrl, dbName);
    const environment = await describeEnvironment(ctx);

    if (!o.bareOnly) {
      // Users, tokens and chats are made once; Parley restarts per pair on the same data.
      const setupServers = await startParley(ctx);
      ctx.parleyTopology = await setUpParley(
        setupServers[0].baseUrl,
        o.users,
        o.group,
        `${process.pid}-${Date.now()}`,
        o.setupConcurrency,
        (t) => progress.update(t),
      );
      ctx.parleyAckedPerChat = ctx.parleyTopology.chats.map(() => 0);
      progress.log(`setup: ${o.users} users signed up and in, ${ctx.parleyTopology.chats.length} group chats`);
      await stopAll(ctx, setupServers);
    }

    const bare: SystemRun[] = [];
    const parley: SystemRun[] = [];
    for (let pair = 1; pair <= o.pairs; pair++) {
      const bareRun = await runBare(ctx, pair);
      bare.push(bareRun);
      if (o.bareOnly) {
        progress.log(
          `pair ${pair}/${o.pairs}: bare relay delivered ${Math.round(bareRun.saturation.deliveredPerSecond)}/s, p99 at 25% ${bareRun.fixed[0]?.delivery.p99} ms`,
        );
        continue;
      }
      parley.push(await runParley(ctx, pair, bareRun.saturation.sentPerSecond));
      const b = bareRun.saturation;
      const p = parley[parley.length - 1].saturation;
      progress.log(
        `pair ${pair}/${o.pairs}: delivered/s bare ${Math.round(b.deliveredPerSecond)} · Parley ${Math.round(p.deliveredPerSecond)} ` +
          `(${(p.deliveredPerSecond / b.deliveredPerSecond).toFixed(2)}x); p99 at 25% bare ${bareRun.fixed[0]?.delivery.p99} ms · ` +
          `Parley ${parley[parley.length - 1].fixed[0]?.delivery.p99} ms`,
      );
    }

    const report = buildReport(ctx, startedAt, environment, bare, parley);
    if (profileDir) report.profiles = summariseProfiles(ctx, profileDir);
    environment.loadAverageEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);

    progress.log('\n' + renderTable(report));
    const svg = resolve(o.svg);
    mkdirSync(dirname(svg), { recursive: true });
    ignoreResultsDir();
    writeFileSync(svg, renderChart(report));
    progress.log(`\nchart: ${svg}`);
    if (o.json) {
      mkdirSync(dirname(resolve(o.json)), { recursive: true });
      writeFileSync(resolve(o.json), toJson(report));
      progress.log(`json: ${resolve(o.json)}`);
    }
    return report.correctness.passed ? 0 : 1;
  } finally {
    if (!interrupted) await cleanup();
  }
}

async function runBare(ctx: Context, pair: number): Promise<SystemRun> {
  const port = await freePort();
  const server = track(
    ctx,
    ServerProcess.start('bare relay', join(DIST, 'bench', 'bare-relay.js'), {
      port,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), BENCH_BARE_FAULT: process.env.BENCH_BARE_FAULT ?? '' },
      cwd: ctx.tmp,
    }),
  );
  const startupMs = await server.waitReady(15_000);
  await postBareRooms(server.baseUrl, ctx.bareTopology);
  try {
    return await runSystem(ctx, 'bare', pair, [server], ctx.bareTopology, undefined, startupMs);
  } finally {
    await stopAll(ctx, [server]);
  }
}

async function runParley(ctx: Context, pair: number, bareSaturation: number): Promise<SystemRun> {
  const started = performance.now();
  const transactionsBefore = await databaseTransactions(ctx);
  const servers = await startParley(ctx);
  let run: SystemRun;
  try {
    run = await runSystem(ctx, 'parley', pair, servers, ctx.parleyTopology, bareSaturation, performance.now() - started);
    await checkStoredRows(ctx, servers[0], run);
  } finally {
    await stopAll(ctx, servers);
  }
  // Backends report their counters when they exit, so this is read after Parley stopped.
  const transactions = (await databaseTransactions(ctx)) - transactionsBefore;
  if (Number.isFinite(transactions))
    run.databaseTransactionsPerAck = Math.round((transactions / Math.max(1, run.correctness.acked)) * 100) / 100;
  return run;
}

/** Committed + rolled-back transactions in the bench's PostgreSQL database so far (NaN on embedded). */
async function databaseTransactions(ctx: Context): Promise<number> {
  if (!ctx.databaseUrl) return NaN;
  await sleep(600); // statistics reach the view with a delay of up to ~0.5 s
  const name = new URL(ctx.databaseUrl).pathname.slice(1);
  return Number(await queryScalar(ctx.databaseUrl, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '${name}'`));
}

/** One system through the phases, with fresh connections: idle memory, saturation, fixed rates, and for Parley catch-up. */
async function runSystem(
  ctx: Context,
  system: SystemName,
  pair: number,
  servers: ServerProcess[],
  topology: Topology,
  bareSaturation: number | undefined,
  startupMs: number,
): Promise<SystemRun> {
  const { options: o, progress } = ctx;
  const name = system === 'bare' ? 'bare relay' : 'Parley';
  const label = `pair ${pair}/${o.pairs} · ${name}`;
  const rss = () => servers.reduce((sum, s) => sum + s.rssBytes(), 0);
  const client = new LoadClient(
    topology,
    servers.map((s) => s.wsUrl),
    o.window,
    {
      server: () => servers.reduce((sum, s) => sum + s.cpuSeconds(), 0),
      database: () => processesCpuSeconds(DATABASE_PROCESSES),
      machine: machineBusySeconds,
      serverGc: (from, to) => combineGc(servers.map((s) => s.gc.between(from, to))),
      clientGc: (from, to) => clientGc.between(from, to),
    },
  );
  ctx.client = client;
  const warmupMs = o.quick ? 500 : 2000;
  const drainMs = o.quick ? 5000 : 15_000;

  progress.update(`${label} · warming up`);
  await client.warmUp(Math.min(10, o.users));
  await sleep(500);
  const before = await memoryAfterGc(servers);
  await client.connectAll((done) => progress.update(`${label} · connecting ${done}/${o.users}`));
  await sleep(1000);
  const idle = await memoryAfterGc(servers);

  let phaseLabel = '';
  let maxRss = 0;
  let lastAcked = client.totalAcked;
  let lastDelivered = client.totalDelivered;
  let lastTick = performance.now();
  let ticks = 0;
  const ticker = setInterval(() => {
    maxRss = Math.max(maxRss, rss());
    if (++ticks % 4 !== 0) return;
    const now = performance.now();
    const secs = (now - lastTick) / 1000;
    const sent = (client.totalAcked - lastAcked) / secs;
    const delivered = (client.totalDelivered - lastDelivered) / secs;
    [lastAcked, lastDelivered, lastTick] = [client.totalAcked, client.totalDelivered, now];
    progress.update(
      `${label} · ${phaseLabel} · acked ${Math.round(sent).toLocaleString('en-US')}/s · delivered ${Math.round(delivered).toLocaleString('en-US')}/s · ` +
        `${client.status()} · server RSS ${(rss() / 1048576).toFixed(0)} MB`,
    );
  }, 250);

  try {
    phaseLabel = `phase 1 saturation (${o.seconds} s + ${warmupMs / 1000} s warm-up)`;
    maxRss = 0;
    const profileName = (phase: string) => `${system}-pair${pair}-${phase}`;
    const saturation = await inProfile(ctx, servers, profileName('saturation'), () => client.saturate(o.seconds, warmupMs, drainMs));
    const saturationBytes = maxRss;
    const base = bareSaturation ?? saturation.sentPerSecond;
    const fixed = [];
    for (const share of o.shares) {
      const rate = Math.max(1, share * base);
      phaseLabel = `phase 2 latency at ${share * 100}% of bare saturation (${Math.round(rate)} msg/s, ${o.seconds} s)`;
      fixed.push(
        await inProfile(ctx, servers, profileName(`at${share * 100}`), () => client.fixedRate(`${share * 100}%`, rate, o.seconds, drainMs)),
      );
    }
    let catchUp: SystemRun['catchUp'];
    if (system === 'parley') {
      const users = catchUpUsers(topology);
      const rate = Math.max(1, o.shares[0] * base);
      phaseLabel = `phase 3 catch-up (${users.length} reconnect + sync, ${Math.round(rate)} msg/s)`;
      const result = await inProfile(ctx, servers, profileName('catchup'), () => client.catchUp(users, rate, o.seconds, drainMs * 2));
      catchUp = { ...result.phase, reconnect: result.catchUp };
    }
    const correctness = client.correctness();
    return {
      system,
      pair,
      startupMs: Math.round(startupMs),
      memory: {
        baselineBytes: before.rss,
        idleBytes: idle.rss,
        saturationBytes,
        bytesPerConnection: Math.round((idle.heapUsed + idle.external - before.heapUsed - before.external) / o.users),
        rssBytesPerConnection: Math.round((idle.rss - before.rss) / o.users),
      },
      saturation,
      fixed,
      catchUp,
      correctness,
      serverCpuSeconds: Math.round(servers.reduce((sum, s) => sum + s.cpuSeconds(), 0) * 10) / 10,
      otherFrames: Object.fromEntries(client.otherFrames),
      errorSamples: client.errorSamples,
      disorderSamples: client.disorderSamples,
    };
  } finally {
    clearInterval(ticker);
    await client.closeAll();
  }
}

async function startParley(ctx: Context): Promise<ServerProcess[]> {
  const o = ctx.options;
  const servers: ServerProcess[] = [];
  for (let i = 1; i <= o.instances; i++) {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? ctx.tmp,
      PORT: String(port),
      DATA_DIR: join(ctx.tmp, `parley-${i}`),
      APP_ENV: 'LOCAL',
      MODULES: 'auth,users,chats,messages,health',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_AUTH_PER_IP: '1000000',
      RATE_LIMIT_AUTH_PER_ACCOUNT: '1000000',
      // Each sender sends ~100+ messages a second at saturation, far beyond a person's limit.
      RATE_LIMIT_MESSAGES_PER_USER: '1000000',
      // Tokens are issued once at setup and must outlive every pair.
      ACCESS_TOKEN_TTL: '24h',
    };
    if (ctx.databaseUrl) env.DATABASE_URL = ctx.databaseUrl;
    if (o.instances > 1) env.REDIS_URL = o.redisUrl;
    servers.push(
      track(
        ctx,
        ServerProcess.start(`Parley${o.instances > 1 ? ` instance ${i}` : ''}`, join(DIST, 'src/main.js'), {
          port,
          env,
          // Away from the repository, so a developer's .env cannot change what is measured.
          cwd: ctx.tmp,
        }),
      ),
    );
  }
  ctx.progress.update(`starting Parley (${servers.length} instance(s))…`);
  try {
    await Promise.all(servers.map((s) => s.waitReady(120_000)));
  } catch (error) {
    await stopAll(ctx, servers);
    throw error;
  }
  return servers;
}

/** Sums over instances: each runs a full GC and reports process.memoryUsage(). */
async function memoryAfterGc(servers: ServerProcess[]): Promise<MemorySnapshot> {
  const all = await Promise.all(servers.map((s) => s.memoryAfterGc()));
  const sum = (key: keyof Omit<MemorySnapshot, 'gc'>) => all.reduce((total, m) => total + m[key], 0);
  return {
    gc: all.every((m) => m.gc),
    rss: sum('rss'),
    heapTotal: sum('heapTotal'),
    heapUsed: sum('heapUsed'),
    external: sum('external'),
    arrayBuffers: sum('arrayBuffers'),
  };
}

/** The load client's own garbage collections (this process), to set against the servers'. */
const clientGc = new GcLog();

/** Garbage collection over all instances: time and counts add up, the longest pause is the longest of any. */
function combineGc(all: GcSummary[]): GcSummary {
  return {
    msPerSecond: all.reduce((sum, g) => sum + g.msPerSecond, 0),
    minorPerSecond: all.reduce((sum, g) => sum + g.minorPerSecond, 0),
    major: all.reduce((sum, g) => sum + g.major, 0),
    majorAt: all.flatMap((g) => g.majorAt).sort((a, b) => a - b),
    oldGrowthPerSecond: all.reduce((sum, g) => sum + g.oldGrowthPerSecond, 0),
    longestMs: Math.max(0, ...all.map((g) => g.longestMs)),
  };
}

/**
 * Runs one phase; with --cpu-prof, under V8's profiler in every server, written as
 * `<system>-pair<n>-<phase>-<instance>.cpuprofile`.
 */
async function inProfile<T>(ctx: Context, servers: ServerProcess[], name: string, phase: () => Promise<T>): Promise<T> {
  const dir = ctx.profileDir;
  if (!dir) return phase();
  const started = await Promise.allSettled(servers.map((s) => s.startProfile()));
  const stopAll = () =>
    Promise.all(
      servers.map((s, i) => (started[i].status === 'fulfilled' ? s.stopProfile(join(dir, `${name}-${i}.cpuprofile`)) : undefined)),
    );
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stopAll().catch(() => undefined);
    throw (failed as PromiseRejectedResult).reason;
  }
  let result: T;
  try {
    result = await phase();
  } catch (error) {
    // The phase's own error is the one to report; a profile that cannot be stopped (its server died, say) comes second.
    await stopAll().catch((stopError: unknown) => ctx.progress.log(`(could not stop a CPU profile: ${String(stopError)})`));
    throw error;
  }
  await stopAll();
  return result;
}

function track(ctx: Context, server: ServerProcess): ServerProcess {
  ctx.running.add(server);
  return server;
}

async function stopAll(ctx: Context, servers: ServerProcess[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
  for (const s of servers) ctx.running.delete(s);
}

/** The correctness gate's storage half: the database holds exactly the acknowledged sends, chat by chat where it can tell. */
async function checkStoredRows(ctx: Context, server: ServerProcess, run: SystemRun): Promise<void> {
  run.correctness.ackedPerChat.forEach((n, i) => (ctx.parleyAckedPerChat[i] += n));
  const expected = ctx.parleyAckedPerChat.reduce((a, b) => a + b, 0);
  if (ctx.databaseUrl) {
    run.correctness.storedRows = Number(await queryScalar(ctx.databaseUrl, 'SELECT count(*) FROM messages'));
  } else {
    const perChat = await storedCounts(server.baseUrl, ctx.parleyTopology, 8);
    run.correctness.storedRows = perChat.reduce((a, b) => a + b, 0);
    run.correctness.storedMismatchChats = perChat.filter((n, i) => n !== ctx.parleyAckedPerChat[i]).length;
  }
  run.correctness.expectedStoredRows = expected;
}

function buildReport(
  ctx: Context,
  startedAt: Date,
  environment: Record<string, unknown>,
  bare: SystemRun[],
  parley: SystemRun[],
): BenchReport {
  const o = ctx.options;
  const failures: string[] = [];
  const notes: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const run of [...bare, ...parley]) {
    const c = run.correctness;
    const bareWho = process.env.BENCH_BARE_FAULT
      ? `bare relay (fault injected: BENCH_BARE_FAULT=${process.env.BENCH_BARE_FAULT})`
      : 'bare relay (a bench or machine problem, not Parley)';
    const who = `${run.system === 'bare' ? bareWho : 'Parley'} pair ${run.pair}`;
    lost += c.lost;
    duplicated += c.duplicated;
    outOfOrder += c.outOfOrder;
    if (c.acked === 0)
      failures.push(`${who}: no send was acknowledged${run.errorSamples.length ? ` (errors: ${run.errorSamples.join('; ')})` : ''}`);
    if (c.lost) failures.push(`${who}: ${c.lost} deliveries lost (acknowledged but never reached a member's connection)`);
    const byPhase = (perPhase: (p: PhaseResult) => number) =>
      ` (by phase: ${phasesOf(run)
        .map((p) => `${p.name} ${perPhase(p)}`)
        .join(', ')})`;
    const steadyDuplicated = c.duplicated - c.duplicatedOnResynced;
    const steadyOutOfOrder = c.outOfOrder - c.outOfOrderOnResynced;
    if (steadyDuplicated)
      failures.push(`${who}: ${steadyDuplicated} deliveries duplicated on connections that never dropped${byPhase((p) => p.duplicated)}`);
    if (steadyOutOfOrder)
      failures.push(
        `${who}: ${steadyOutOfOrder} deliveries out of seq order on connections that never dropped${byPhase((p) => p.outOfOrder)}`,
      );
    if (steadyDuplicated || steadyOutOfOrder) failures.push(...run.disorderSamples.map((d) => `  e.g. ${d}`));
    if (c.duplicatedOnResynced || c.outOfOrderOnResynced) {
      // The contract lets live frames flow as soon as `ready` is sent, so they can overtake (and overlap) the history `sync` sends;
      // reported against the catch-up target, not failed: a client orders and de-duplicates by seq.
      notes.push(
        `${who}: connections re-synced in the catch-up phase got ${c.duplicatedOnResynced} duplicate and ${c.outOfOrderOnResynced} out-of-order deliveries ` +
          '(live new_message frames arriving before or alongside the history that sync sends)',
        ...run.disorderSamples
          .filter((d) => d.includes('re-synced'))
          .slice(0, 3)
          .map((d) => `  e.g. ${d}`),
      );
    }
    if (c.unexpected) failures.push(`${who}: ${c.unexpected} deliveries of seqs never acknowledged`);
    if (c.chatsWithSeqGaps) failures.push(`${who}: ${c.chatsWithSeqGaps} chats with gaps in acknowledged seqs`);
    if (c.duplicateSeqAcks) failures.push(`${who}: ${c.duplicateSeqAcks} seqs acknowledged twice`);
    if (c.unexpectedCloses.length) failures.push(`${who}: server closed connections: ${c.unexpectedCloses.join('; ')}`);
    if (c.expectedStoredRows !== undefined && c.storedRows !== c.expectedStoredRows)
      failures.push(`${who}: the database holds ${c.storedRows} messages, but ${c.expectedStoredRows} sends were acknowledged`);
    if (c.storedMismatchChats)
      failures.push(`${who}: ${c.storedMismatchChats} chats hold a different number of messages than were acknowledged`);
  }
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    options: {
      ...withoutUrls(o),
      database: o.db === 'postgres' ? `PostgreSQL (fresh database parley_bench_${process.pid})` : 'embedded (PGlite)',
    },
    environment,
    bare: { runs: bare, summary: summarise(bare) },
    parley: { runs: parley, summary: summarise(parley) },
    ratios: pairRatios(bare, parley),
    targets: [],
    lost,
    duplicated,
    outOfOrder,
    correctness: { passed: failures.length === 0, failures, notes },
  };
  report.targets = judgeTargets(report, report.bare.summary.deliveredPerSecond.median);
  return report;
}

function phasesOf(run: SystemRun): PhaseResult[] {
  return [run.saturation, ...run.fixed, ...(run.catchUp ? [run.catchUp] : [])];
}

function withoutUrls(o: BenchOptions): Omit<BenchOptions, 'databaseUrl' | 'redisUrl'> {
  const { databaseUrl: _database, redisUrl: _redis, ...rest } = o;
  return rest;
}

async function describeEnvironment(ctx: Context): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  const env: Record<string, unknown> = {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ws: packageVersion('ws'),
    pg: packageVersion('pg'),
    ioredis: packageVersion('ioredis'),
    nestjs: packageVersion('@nestjs/core'),
    parleyCommit:
      git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : ''),
    sharedMachine: true,
    loadClient: 'this bench process (one Node thread), on the same machine as the server under test: they compete for the same cores',
    loadClientV8Flags: CLIENT_V8_FLAGS.join(' '),
    loadAverageStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  if (ctx.databaseUrl) env.postgresServer = await queryScalar(ctx.databaseUrl, 'SHOW server_version').catch(() => 'unknown');
  if (ctx.options.instances > 1) {
    const redis = new Redis(ctx.options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
    try {
      await redis.connect();
      env.redisServer = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
    } catch (error) {
      throw new Error(
        `Redis at ${ctx.options.redisUrl} is unreachable (${String(error)}); start it or pass --redis-url (needed for --instances 2).`,
      );
    } finally {
      redis.disconnect();
    }
  }
  return env;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function summariseProfiles(ctx: Context, dir: string): NonNullable<BenchReport['profiles']> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const summaries = files.map((f) => summariseProfile(join(dir, f)));
  ctx.progress.log(
    `\nCPU profiles, one per phase, in ${dir} (open in Chrome DevTools › Performance, or \`node dist/bench/profile.js FILE\`)`,
  );
  // Parley's last pair, at saturation and at the first fixed rate (where the p99 target is).
  for (const phase of ['saturation', `at${ctx.options.shares[0] * 100}`]) {
    const pairOf = (file: string) => Number(/-pair(\d+)-/.exec(file)?.[1] ?? 0);
    const last = summaries
      .filter((s) => basename(s.file).startsWith('parley-') && s.file.includes(`-${phase}-`))
      .sort((x, y) => pairOf(x.file) - pairOf(y.file))
      .pop();
    if (last) ctx.progress.log(renderProfile(last));
  }
  return summaries;
}

/** bench-results/ stays out of git without an entry in the repository's .gitignore. */
function ignoreResultsDir(): void {
  const dir = resolve('bench-results');
  if (existsSync(dir) && !existsSync(join(dir, '.gitignore'))) writeFileSync(join(dir, '.gitignore'), '*\n');
}

/**
 * V8 flags for the load client (this process). It parses every frame both systems send, and with
 * V8's defaults it soon allocated those objects straight into the old generation, so it ran a
 * full collection about every 2 s at 25% load. Each one stalled the client for up to ~20 ms (and
 * kept a second core busy marking): latency it then recorded against whichever server it was
 * measuring, which tripled the bare relay's p99 (26 ms against 9 ms) and so hid most of the gap.
 * Even so, V8 let its old generation grow only a few MB past its live heap before the next full
 * collection, which came every 4–7 s at 25% and every ~4 s at 50%, each one a slow second for
 * whichever system was measured (docs/bench.md, fifth round); letting it double first spaces them.
 */
const CLIENT_V8_FLAGS = ['--max-semi-space-size=32', '--no-allocation-site-pretenuring', '--heap-growing-percent=100'];

const missingFlags = CLIENT_V8_FLAGS.filter((flag) => !process.execArgv.includes(flag));
if (missingFlags.length > 0) {
  // Heap sizes are fixed at start-up, so the bench runs itself again with them.
  const child = spawn(process.execPath, [...process.execArgv, ...missingFlags, ...process.argv.slice(1)], { stdio: 'inherit' });
  // Signals are passed on (Ctrl-C reaches the child directly as well; it takes a repeat as one).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`bench: could not start ${process.execPath} again with ${missingFlags.join(' ')}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
} else {
  watchGc(250, (collections, old) => clientGc.add(collections, old));
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`\nbench failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
