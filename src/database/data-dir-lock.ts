import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { SetupError } from '../common/errors/setup-error.js';

/** The owner refreshes the lock's modification time this often… */
const HEARTBEAT_MS = 5_000;
/** …so a lock not refreshed for this long belongs to a process that is gone, wherever it ran. */
export const LOCK_STALE_MS = 20_000;

interface Owner {
  host?: string;
  pid?: number;
  token?: string;
  /** The machine's boot id when the lock was written (Linux; absent elsewhere and in older locks). */
  boot?: string;
  /** When its process started, in clock ticks since boot (Linux; absent elsewhere and in older locks). */
  start?: string;
  /** The pid namespace its pid is in (Linux: two containers may share a host name, not their pids). */
  pidSpace?: string;
}

export interface LockOptions {
  /** Defaults to this machine's host name and process id; tests pose as others. */
  host?: string;
  pid?: number;
  heartbeatMs?: number;
  boot?: string;
  start?: string;
  pidSpace?: string;
}

/**
 * Keeps a second process off a data directory that one process at a time may write (PGlite's):
 * two writers would lose each other's writes, or corrupt it.
 *
 * The owner is named by host, process id and a random token, and proves it is alive by touching
 * the file every few seconds. A process id alone does not tell owners apart: in containers every
 * process is pid 1, so two containers sharing a volume, or a one-off `migrate` next to the
 * server, each took the other's lock for their own. A lock from this host whose process is gone
 * is taken over at once, as is one written before the machine last started, or by a process that
 * started at another time than the one with its pid now (the pid was reused); any other (another
 * host, or another pid namespace on this one) is taken over only once its heartbeat has stopped.
 */
export class DataDirLock {
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly file: string,
    private readonly token: string,
    heartbeatMs: number,
    /** Who held the lock before and left it behind (did not stop cleanly: killed, or its machine stopped), as "pid 12 on host". */
    readonly leftBy?: string,
  ) {
    this.timer = setInterval(() => this.beat(), heartbeatMs);
    this.timer.unref();
  }

  /** Takes the lock, or throws a sentence naming who holds it and what to do. */
  static claim(file: string, what: string, options: LockOptions = {}): DataDirLock {
    const pid = options.pid ?? process.pid;
    const me = {
      host: options.host ?? hostname(),
      pid,
      token: randomUUID(),
      boot: options.boot ?? bootId(),
      start: options.start ?? startOf(pid),
      pidSpace: options.pidSpace ?? pidSpace(),
    };
    const content = JSON.stringify(me);
    let left: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, content, { flag: 'wx' }); // exclusive: of two racing starts, one wins
        return new DataDirLock(file, me.token, options.heartbeatMs ?? HEARTBEAT_MS, left);
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException;
        if (code !== 'EEXIST') {
          throw new SetupError(
            `Cannot write the lock ${file} on ${what} (${code ?? message}): ${fsFix(code)}; or set DATA_DIR elsewhere, or set DATABASE_URL.`,
          );
        }
      }
      const seen = readOwner(file);
      if (seen === undefined) continue; // removed meanwhile: try again
      const { owner, raw, ageMs } = seen;
      // On this host, among the same pids: gone when its process is, or when the machine has
      // restarted since it wrote the lock, or when the process with its pid now started at another
      // time (the pid was reused). Elsewhere, or in another pid namespace (two containers with one
      // host name: its pid may be any process here), when its heartbeat has stopped.
      const gone =
        owner.host === me.host && owner.pid !== me.pid && !differ(owner.pidSpace, me.pidSpace)
          ? !isAlive(owner.pid) || differ(owner.boot, me.boot) || differ(owner.start, startOf(owner.pid))
          : ageMs > LOCK_STALE_MS;
      if (!gone) {
        throw new SetupError(
          `Another Parley process (${who(owner)}) is using ${what} (its lock ${file} was renewed ${Math.round(ageMs / 1000)} s ago); ` +
            `stop it (a server applies migrations, and under LOCAL seeds, at its start by itself), set DATA_DIR to another directory, or set DATABASE_URL to share a PostgreSQL server between instances. ` +
            `A lock left by a process that died is taken over at once when another process on this host wrote it; otherwise (another host, or a container restarted with the same pid) once it is ${LOCK_STALE_MS / 1000} s old: wait, or let a restart policy retry.`,
        );
      }
      left = who(owner);
      // Left behind. Move it aside rather than delete it: of two processes taking it over at once,
      // only one rename succeeds, and one that finds a different owner inside puts it back.
      const aside = `${file}.${me.token}.stale`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      if (readFileSync(aside, 'utf8') !== raw) {
        renameSync(aside, file);
        continue;
      }
      rmSync(aside, { force: true });
    }
    throw new SetupError(`Could not take the lock ${file} on ${what}: other processes keep taking it; try again.`);
  }

  /** Gives the lock up, unless it has (after a long stall of ours) been taken over since. */
  release(): void {
    clearInterval(this.timer);
    if (readOwner(this.file)?.owner.token === this.token) rmSync(this.file, { force: true });
  }

  private beat(): void {
    const now = new Date();
    try {
      utimesSync(this.file, now, now);
    } catch {
      // Deleted from under us: the next start elsewhere may take the directory; nothing to do here.
    }
  }
}

/** "pid 12 on host", as far as the lock says. */
function who(owner: Owner): string {
  return `${owner.pid ? `pid ${owner.pid}` : 'a process'}${owner.host ? ` on ${owner.host}` : ''}`;
}

function readOwner(file: string): { owner: Owner; raw: string; ageMs: number } | undefined {
  try {
    const raw = readFileSync(file, 'utf8');
    const ageMs = Date.now() - statSync(file).mtimeMs;
    return { owner: parseOwner(raw), raw, ageMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** JSON `{ host, pid, token, boot }`; earlier versions wrote the bare pid, or no boot. */
function parseOwner(raw: string): Owner {
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed === 'number') return { pid: parsed };
    if (typeof parsed === 'object' && parsed !== null) return parsed as Owner;
  } catch {
    // unreadable: an owner we know nothing about, judged by its heartbeat alone
  }
  return {};
}

/** Both known, and not the same. */
function differ(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a !== b;
}

/** When process `pid` started, in clock ticks since boot (Linux: /proc/<pid>/stat's 22nd field), or undefined. */
function startOf(pid: number | undefined): string | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<command, which may hold spaces and parentheses>) <state: field 3> … <starttime: field 22> …"
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] || undefined;
  } catch {
    return undefined;
  }
}

/** This process's pid namespace (Linux: "pid:[4026531836]"), or undefined. */
function pidSpace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** This boot of the machine (Linux), so a lock written before a restart is not taken for a live one whose pid was reused. */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: another user's process, alive unless a zombie (its /proc entry is readable to all).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/**
 * A process killed but not yet reaped by its parent (Linux state Z: started with `&` from a
 * script whose parent never waits, or as pid 1's child in a container without an init) still
 * answers kill(pid, 0), though it holds nothing any more.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<command, which may hold spaces and parentheses>) <state> …"
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X';
  } catch {
    return false; // no /proc (not Linux), or gone meanwhile: kill(pid, 0) has the say
  }
}

/** What to do about a file system error, by its code: not everything is a permission. */
export function fsFix(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'this user may not write there: fix its owner or permissions';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file is where a directory should be: move that file away';
    case 'EROFS':
      return 'it is on a read-only file system: mount it writable';
    case 'ENOENT':
      return 'no directory can be made there (a special file system such as /proc, a symbolic link that points nowhere, or a parent that went away): use a directory on a disk';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk (or quota) is full: free some space';
    default:
      return 'check that this user can write there';
  }
}
