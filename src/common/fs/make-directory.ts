import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/*
 * `mkdir -p`, one level at a time. Node's own `{ recursive: true }` never returns, spinning a
 * core, for a path under a file system that refuses to make a directory with ENOENT although its
 * parent exists (/proc: mkdir "/proc/x" says ENOENT, mkdir "/proc" EEXIST, and round it goes), so
 * a DATA_DIR there hung the start with no word and deaf to SIGTERM. Here that ENOENT is thrown.
 */

/** Creates `path` and any missing parents (each with `mode`); an existing directory is left as it is. */
export function makeDirectorySync(path: string, mode?: number): void {
  const missing: string[] = [];
  let dir = resolve(path);
  while (statSync(dir, { throwIfNoEntry: false }) === undefined) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  if (missing.length === 0 && !statSync(dir).isDirectory()) throw fileInTheWay(dir);
  for (const each of missing) {
    try {
      mkdirSync(each, { mode });
    } catch (error) {
      if (!(isErrno(error, 'EEXIST') && statSync(each).isDirectory())) throw error; // made meanwhile by another
    }
  }
}

/** As makeDirectorySync, without blocking the event loop. */
export async function makeDirectory(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  let dir = resolve(path);
  while (!(await exists(dir))) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  if (missing.length === 0 && !(await stat(dir)).isDirectory()) throw fileInTheWay(dir);
  for (const each of missing) {
    try {
      await mkdir(each, { mode });
    } catch (error) {
      if (!(isErrno(error, 'EEXIST') && (await stat(each)).isDirectory())) throw error;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** What mkdir says of a file where the directory should be. */
function fileInTheWay(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EEXIST: file already exists, mkdir '${path}'`), { code: 'EEXIST', syscall: 'mkdir', path });
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
