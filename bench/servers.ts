import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type Collection, GcLog, type OldGenerationSample } from './gc-log.js';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux, what /proc/<pid>/stat counts in
const SERVER_ENTRY = join(import.meta.dirname, 'server-entry.js');

export interface MemorySnapshot {
  gc: boolean;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

interface ProfileAnswer {
  profiling?: boolean;
  profiled?: string;
  profileError?: string;
}

/** A server under test, run as a child process on 127.0.0.1 so its memory and CPU are its own. */
export class ServerProcess {
  private readonly tail: string[] = [];
  /** The garbage collections the server reported (server-entry.js). */
  readonly gc = new GcLog();
  private readonly memoryWaiters: Array<(m: MemorySnapshot) => void> = [];
  private readonly profileWaiters: Array<(answer: ProfileAnswer) => void> = [];
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.tail.push(line);
      if (this.tail.length > 60) this.tail.splice(0, this.tail.length - 60);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('message', (message: { memory?: MemorySnapshot; gc?: Collection[]; old?: OldGenerationSample } & ProfileAnswer) => {
      if (message.gc) this.gc.add(message.gc, message.old);
      else if (message.memory) this.memoryWaiters.shift()?.(message.memory);
      else if (message.profiling || message.profiled || message.profileError) this.profileWaiters.shift()?.(message);
    });
    this.exitPromise = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve();
      }),
    );
  }

  /** Runs `script` through server-entry.js (see there), with `nodeArgs` such as --cpu-prof. */
  static start(name: string, script: string, options: { port: number; env: Record<string, string>; nodeArgs?: string[]; cwd?: string }) {
    const child = spawn(process.execPath, ['--expose-gc', ...(options.nodeArgs ?? []), SERVER_ENTRY, script], {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return new ServerProcess(name, options.port, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  output(): string {
    return this.tail.join('\n');
  }

  /** Polls GET /health/ready until 200; fails with the server's last output if it exits or stays unready. */
  async waitReady(timeoutMs: number): Promise<number> {
    const started = performance.now();
    let last = '';
    while (performance.now() - started < timeoutMs) {
      if (this.exited)
        throw new Error(`${this.name} exited (${this.exited.code ?? this.exited.signal}) before it was ready:\n${this.output()}`);
      try {
        const res = await fetch(`${this.baseUrl}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return performance.now() - started;
        last = `${res.status} ${await res.text()}`;
      } catch (error) {
        last = String(error);
      }
      await sleep(150);
    }
    throw new Error(
      `${this.name} was not ready on ${this.baseUrl}/health/ready within ${timeoutMs / 1000} s (last answer: ${last}):\n${this.output()}`,
    );
  }

  /** Full GC in the server, then its process.memoryUsage() (server-entry.js answers on the IPC channel). */
  async memoryAfterGc(timeoutMs = 10_000): Promise<MemorySnapshot> {
    const answer = new Promise<MemorySnapshot>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not report its memory within ${timeoutMs / 1000} s`)), timeoutMs);
      this.memoryWaiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    this.child.send('memory');
    return answer;
  }

  /** Starts V8's CPU profiler in the server (server-entry.js), for one phase. */
  async startProfile(): Promise<void> {
    await this.askProfiler({ profile: 'start' });
  }

  /** Stops the profiler started by startProfile and has the server write the profile to `file`. */
  async stopProfile(file: string): Promise<void> {
    await this.askProfiler({ profile: 'stop', file });
  }

  private async askProfiler(request: { profile: 'start' | 'stop'; file?: string }, timeoutMs = 30_000): Promise<void> {
    const answer = await new Promise<ProfileAnswer>((resolve, reject) => {
      const waiter = (a: ProfileAnswer) => {
        clearTimeout(timer);
        resolve(a);
      };
      // A waiter that gave up leaves the queue, so a late answer cannot go to the next request.
      const giveUp = (error: Error) => {
        clearTimeout(timer);
        const index = this.profileWaiters.indexOf(waiter);
        if (index >= 0) this.profileWaiters.splice(index, 1);
        reject(error);
      };
      const timer = setTimeout(
        () => giveUp(new Error(`${this.name} did not answer a profile ${request.profile} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.profileWaiters.push(waiter);
      // With a callback, a closed channel (the server died) is an error here, not an unhandled 'error' event.
      this.child.send(request, (error) => {
        if (error) giveUp(new Error(`${this.name} could not be asked to ${request.profile} its profile: ${error.message}`));
      });
    });
    if (answer.profileError) throw new Error(`${this.name} could not ${request.profile} its CPU profile: ${answer.profileError}`);
  }

  /** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
  rssBytes(): number {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) * 1024 : NaN;
    } catch {
      return NaN;
    }
  }

  /** User + system CPU seconds the process has used, from /proc/<pid>/stat. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return NaN;
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by every process whose command name is one of `names` (e.g. PostgreSQL's backends). */
export function processesCpuSeconds(names: ReadonlySet<string>): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.has(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** A port the OS just handed out on 127.0.0.1; free again by the time it is returned. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A fresh database on the PostgreSQL server of `adminUrl`; returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL at ${adminUrl} is unreachable (${String(error)}); start it, or pass --database-url, or use --db embedded.`);
  }
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function queryScalar(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return String(Object.values(result.rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}
