import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory, makeDirectorySync } from './make-directory.js';

describe('makeDirectory / makeDirectorySync', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'parley-mkdir-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kinds = [
    ['makeDirectorySync', async (path: string, mode?: number) => makeDirectorySync(path, mode)],
    ['makeDirectory', makeDirectory],
  ] as const;

  it.each(kinds)('%s makes the missing parents, each with the mode, and leaves an existing directory as it is', async (_, make) => {
    await make(join(dir, 'a', 'b', 'c'), 0o700);
    for (const path of ['a', 'a/b', 'a/b/c']) {
      const stats = statSync(join(dir, path));
      expect(stats.isDirectory()).toBe(true);
      expect(stats.mode & 0o777).toBe(0o700);
    }
    await make(join(dir, 'a', 'b'));
    await make(dir);
    expect(statSync(join(dir, 'a', 'b', 'c')).isDirectory()).toBe(true);
  });

  it.each(kinds)('%s refuses a file in the way (ENOTDIR, EEXIST)', async (_, make) => {
    writeFileSync(join(dir, 'file'), 'x');
    await expect(make(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(make(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
  });

  // Node's own `recursive: true` spins for ever on these.
  it.each(kinds)('%s refuses a path under /proc with ENOENT rather than looping', async (_, make) => {
    await expect(make('/proc/parley-nope/sub')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(make('/proc/parley-nope')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each(kinds)('%s takes many makers of the same directories at once', async (_, make) => {
    await Promise.all(Array.from({ length: 8 }, () => make(join(dir, 'x', 'y', 'z'))));
    expect(statSync(join(dir, 'x', 'y', 'z')).isDirectory()).toBe(true);
  });
});
