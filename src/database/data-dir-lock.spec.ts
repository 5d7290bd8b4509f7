import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLock, LOCK_STALE_MS } from './data-dir-lock.js';

describe('DataDirLock', () => {
  let dir: string;
  let file: string;
  const held: DataDirLock[] = [];
  const claim = (options = {}) => {
    const lock = DataDirLock.claim(file, 'the test directory', options);
    held.push(lock);
    return lock;
  };
  const age = (ms: number) => {
    const then = new Date(Date.now() - ms);
    utimesSync(file, then, then);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-lock-'));
    file = join(dir, 'pgdata.lock');
  });

  afterEach(() => {
    for (const lock of held.splice(0)) lock.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the lock and the fix when it cannot be written (a file where its directory should be)', () => {
    writeFileSync(join(dir, 'data'), 'not a directory');
    expect(() => DataDirLock.claim(join(dir, 'data', 'pgdata.lock'), 'the test directory')).toThrow(
      /^Cannot write the lock .*data\/pgdata\.lock on the test directory \(ENOTDIR\): a file is where a directory should be: move that file away; or set DATA_DIR elsewhere/,
    );
  });

  it('refuses a second owner on another host, though both are pid 1 (two containers on one volume)', () => {
    claim({ host: 'container-a', pid: 1 });
    expect(() => claim({ host: 'container-b', pid: 1 })).toThrow(
      /^Another Parley process \(pid 1 on container-a\) is using the test directory \(its lock .*pgdata\.lock was renewed 0 s ago\); stop it/,
    );
  });

  it('refuses a second owner on this host whose process is alive, whatever its heartbeat', () => {
    claim();
    age(LOCK_STALE_MS * 2);
    expect(() => claim({ pid: process.pid + 1 })).toThrow(/Another Parley process \(pid \d+ on /);
  });

  it('refuses a lock written by an earlier version (a bare pid) while its heartbeat is fresh, even when the pid is ours', () => {
    writeFileSync(file, String(process.pid));
    expect(() => claim()).toThrow(/Another Parley process \(pid \d+\) is using/);
  });

  it('takes over at once a lock from this host whose process is gone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(file, JSON.stringify({ host: hostname(), pid, token: 'old' }));
    expect(claim().leftBy).toBe(`pid ${pid} on ${hostname()}`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ host: hostname(), pid: process.pid });
    // A lock given up on release leaves nothing to say next time.
    held.pop()!.release();
    expect(claim().leftBy).toBeUndefined();
  });

  it('takes over at once a lock whose process was killed but never reaped (a zombie), and says whose it was', async () => {
    // `sleep 30` is the shell's child; the shell becomes `sleep 60`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 60']);
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))));
      // Only once the shell is `sleep 60`: killed while the shell still runs, the child is reaped by it.
      const parentIs = () => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim();
      for (let i = 0; i < 100 && parentIs() !== 'sleep'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(parentIs()).toBe('sleep');
      process.kill(pid, 'SIGKILL');
      const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].charAt(0);
      for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(state()).toBe('Z'); // still answers kill(pid, 0)
      writeFileSync(file, JSON.stringify({ host: hostname(), pid, token: 'old' }));
      expect(claim().leftBy).toBe(`pid ${pid} on ${hostname()}`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      parent.kill();
    }
  });

  it('takes over at once a lock from this host written before the machine restarted, though its pid is alive (reused)', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      writeFileSync(file, JSON.stringify({ host: hostname(), pid: other.pid, token: 'old', boot: 'an-earlier-boot' }));
      expect(() => claim({ pid: process.pid, boot: 'an-earlier-boot' })).toThrow(/Another Parley process/); // same boot: it is the owner
      claim({ boot: 'this-boot' });
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ host: hostname(), pid: process.pid, boot: 'this-boot' });
    } finally {
      other.kill();
    }
  });

  it('takes over at once a lock from this host whose pid now belongs to a process started since (the pid was reused)', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await new Promise((resolve) => other.on('spawn', resolve));
      const start = readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      // Written by the process that has the pid: it is the owner.
      writeFileSync(file, JSON.stringify({ host: hostname(), pid: other.pid, token: 'old', start }));
      expect(() => claim()).toThrow(/Another Parley process/);
      // Written by one that had the pid before: gone.
      writeFileSync(file, JSON.stringify({ host: hostname(), pid: other.pid, token: 'old', start: String(Number(start) - 1) }));
      expect(claim().leftBy).toBe(`pid ${other.pid} on ${hostname()}`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, start: expect.stringMatching(/^\d+$/) });
    } finally {
      other.kill();
    }
  });

  it('judges a lock from another pid namespace on this host name (a container beside ours) by its heartbeat alone', () => {
    // Its pid 1 is some process here too, started at another time: that says nothing about it.
    writeFileSync(file, JSON.stringify({ host: hostname(), pid: 1, token: 'theirs', start: '12345', pidSpace: 'pid:[1]' }));
    expect(() => claim({ pidSpace: 'pid:[2]' })).toThrow(/Another Parley process \(pid 1 on /);
    age(LOCK_STALE_MS * 2);
    expect(claim({ pidSpace: 'pid:[2]' }).leftBy).toBe(`pid 1 on ${hostname()}`);
  });

  it('takes over a lock from elsewhere once its heartbeat has stopped', () => {
    writeFileSync(file, JSON.stringify({ host: 'gone-container', pid: 1, token: 'old' }));
    age(LOCK_STALE_MS + 1_000);
    claim({ host: 'new-container', pid: 1 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ host: 'new-container', pid: 1 });
  });

  it('keeps its lock fresh while held, and removes only its own on release', async () => {
    const lock = claim({ heartbeatMs: 50 });
    age(LOCK_STALE_MS * 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(LOCK_STALE_MS);

    // Stalled long enough to be taken over elsewhere: releasing must not remove the new owner's lock.
    writeFileSync(file, JSON.stringify({ host: 'other', pid: 7, token: 'theirs' }));
    lock.release();
    expect(existsSync(file)).toBe(true);
  });
});
