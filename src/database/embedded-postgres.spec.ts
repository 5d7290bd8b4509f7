import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeOpenError, EmbeddedPostgres } from './embedded-postgres.js';

describe('EmbeddedPostgres start-up errors', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'parley-embedded-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says a file is where the database would go, and what to do', async () => {
    writeFileSync(join(dir, 'data'), 'not a directory');
    await expect(EmbeddedPostgres.start(join(dir, 'data', 'pgdata'))).rejects.toThrow(
      /^DATA_DIR cannot hold the database in .*data\/pgdata \(ENOTDIR\): a file is where a directory should be: move that file away; or set DATA_DIR elsewhere, or set DATABASE_URL\.$/,
    );
    writeFileSync(join(dir, 'pgdata'), 'not a directory');
    await expect(EmbeddedPostgres.start(join(dir, 'pgdata'))).rejects.toThrow(
      /^DATA_DIR cannot hold the database in .*pgdata \(EEXIST\): a file is where/,
    );
  });

  it('refuses a DATA_DIR where no directory can be made (under /proc), at once, rather than hanging the start', async () => {
    await expect(EmbeddedPostgres.start('/proc/parley-data/pgdata')).rejects.toThrow(
      /^DATA_DIR cannot hold the database in \/proc\/parley-data\/pgdata \(ENOENT\): no directory can be made there/,
    );
  });

  it("words PGlite's file system errors, which are plain objects (String() made them [object Object]), with a fix that fits", () => {
    expect(describeOpenError({ name: 'ErrnoError', errno: 2 })).toEqual({
      reason: 'EACCES, errno 2',
      fix: 'this user may not write there: fix its owner or permissions',
    });
    expect(describeOpenError({ name: 'ErrnoError', errno: 51 }).fix).toBe('the disk (or quota) is full: free some space');
    expect(describeOpenError({ name: 'ErrnoError', errno: 44 }).fix).toBe('move that directory away to start fresh');
    expect(describeOpenError({ name: 'ErrnoError', errno: 99 }).reason).toContain('errno: 99');
    expect(describeOpenError(new Error('bad magic'))).toEqual({ reason: 'bad magic', fix: 'move that directory away to start fresh' });
  });
});
