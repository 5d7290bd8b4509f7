import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeOpenError, EmbeddedPostgres } from './embedded-postgres.js';

describe('EmbeddedPostgres start-up errors', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'parley-embedded-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says DATA_DIR is a file, and what to do, when a file is where the database would go', async () => {
    writeFileSync(join(dir, 'data'), 'not a directory');
    await expect(EmbeddedPostgres.start(join(dir, 'data', 'pgdata'))).rejects.toThrow(
      /^DATA_DIR cannot hold the database: .*data\/pgdata or a directory above it is a file \(ENOTDIR\); fix its owner or permissions, set DATA_DIR to a directory this user may write, or set DATABASE_URL$/,
    );
    writeFileSync(join(dir, 'pgdata'), 'not a directory');
    await expect(EmbeddedPostgres.start(join(dir, 'pgdata'))).rejects.toThrow(
      /^DATA_DIR cannot hold the database: .* is a file \(EEXIST\)/,
    );
  });

  it("words PGlite's file system errors, which are plain objects (String() made them [object Object])", () => {
    expect(describeOpenError({ name: 'ErrnoError', errno: 2 })).toBe('ErrnoError 2: permission denied');
    expect(describeOpenError({ name: 'ErrnoError', errno: 99 })).toBe('ErrnoError 99');
    expect(describeOpenError(new Error('bad magic'))).toBe('bad magic');
  });
});
