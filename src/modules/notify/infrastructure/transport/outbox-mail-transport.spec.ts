import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneOutbox } from './outbox-mail-transport.js';

describe('pruneOutbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, ageDays: number) => {
    writeFileSync(join(dir, name), 'x');
    const when = new Date(Date.now() - ageDays * 24 * 60 * 60_000);
    utimesSync(join(dir, name), when, when);
  };

  it('removes the messages older than the days it is given, half-written ones after an hour, and nothing else', async () => {
    file('2026-01-01T00-00-00-000Z-confirm-email-a.eml', 31);
    file('2026-01-01T00-00-00-000Z-reset-password-b.eml.part', 40);
    file('2026-02-01T00-00-00-000Z-confirm-email-c.eml', 29);
    file('2026-02-01T00-00-00-000Z-confirm-email-d.eml.part', 2 / 24); // a crash two hours ago left it
    file('2026-02-01T00-00-00-000Z-confirm-email-e.eml.part', 0); // being written
    file('notes.txt', 400);

    expect(await pruneOutbox(dir, 30)).toBe(3);

    expect(readdirSync(dir).sort()).toEqual([
      '2026-02-01T00-00-00-000Z-confirm-email-c.eml',
      '2026-02-01T00-00-00-000Z-confirm-email-e.eml.part',
      'notes.txt',
    ]);
  });

  it('has nothing to remove before the first message made the directory', async () => {
    expect(await pruneOutbox(join(dir, 'not-yet'), 30)).toBe(0);
  });
});
