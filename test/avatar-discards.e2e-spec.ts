import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AvatarDiscards } from '../src/modules/users/avatar-discards.js';
import { UserRepository } from '../src/modules/users/user.repository.js';
import { ObjectStorage } from '../src/storage/object-storage.js';
import { type SignedIn, signUpAndIn } from './support/accounts.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { type FakeS3, startFakeS3 } from './support/fake-s3.js';
import { expectErrorShape, httpClient } from './support/http.js';
import { IMAGES } from './support/images.js';
import { type FrontDoor, frontDoor } from './support/proxy.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually } from './support/ws.js';

const BUCKET = 'parley-discards';

/**
 * Avatar files no one points at any more are deleted even when object storage is down as they stop
 * being used: S3 (s3rver) stands behind a front door the test shuts and opens.
 */
describe('avatar files no one points at', () => {
  let db: TestDatabase;
  let s3: FakeS3;
  let door: FrontDoor;
  let app: TestApp;
  let request: ReturnType<typeof httpClient>;
  let alice: SignedIn;
  const s3Port = () => Number(new URL(s3.url).port);

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    s3 = await startFakeS3();
    door = await frontDoor();
    door.to(s3Port());
    app = await startTestApp(
      Object.assign({}, db.env, s3.env(BUCKET), { S3_ENDPOINT: `http://127.0.0.1:${door.port}`, MODULES: 'auth,users' }),
    );
    request = httpClient(app.url);
  });

  afterAll(async () => {
    await app?.close();
    await door?.close();
    await s3?.close();
    await db?.dispose();
  });

  let warn: jest.SpiedFunction<Logger['warn']>;
  beforeEach(async () => {
    door.to(s3Port());
    alice = await signUpAndIn(request, 'Alice');
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  const upload = (bytes: Buffer) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'a.png');
    return request('PUT', '/api/v1/users/me/avatar', { raw: form, token: alice.accessToken });
  };
  const stored = () => s3.keys(BUCKET, `avatars/${alice.user.id}/`);
  const queued = async () =>
    (
      (await app.app
        .get(DataSource)
        .query(`SELECT key, attempts FROM avatar_discards WHERE user_id = $1 ORDER BY key`, [alice.user.id])) as Array<{
        key: string;
        attempts: number;
      }>
    ).map((row) => ({ key: row.key, attempts: row.attempts }));
  /** A failed delete waits a minute for its retry; the test does not. */
  const dueNow = () => app.app.get(DataSource).query(`UPDATE avatar_discards SET due_at = now() WHERE user_id = $1`, [alice.user.id]);

  it("deletes a removed avatar's file once storage is back, though storage was down when it was removed", async () => {
    expect((await upload(IMAGES.png)).status).toBe(200);
    const [file] = await stored();

    door.to(undefined); // storage goes down
    expect((await request('DELETE', '/api/v1/users/me/avatar', { token: alice.accessToken })).status).toBe(204);
    expect((await request('GET', '/api/v1/users/me', { token: alice.accessToken })).body.avatarUrl).toBeNull();
    expectErrorShape(await request('GET', '/api/v1/users/me/avatar', { token: alice.accessToken }), 404, 'AVATAR_NOT_FOUND');
    expect(await queued()).toEqual([{ key: file, attempts: 1 }]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`Could not delete avatar file ${file}`));
    await app.app.get(AvatarDiscards).run(); // still down: it stays
    expect(await queued()).toEqual([{ key: file, attempts: expect.any(Number) }]);

    door.to(s3Port());
    expect(await stored()).toEqual([file]);
    await dueNow();
    await app.app.get(AvatarDiscards).run();

    expect(await stored()).toEqual([]);
    expect(await queued()).toEqual([]);
  });

  it("deletes a replaced avatar's file once storage is back, and never the new one", async () => {
    expect((await upload(IMAGES.png)).status).toBe(200);
    const [old] = await stored();
    // Storage takes the new file, then goes down before the old one's delete.
    const storage = app.app.get(ObjectStorage);
    const realPut = storage.put.bind(storage);
    const put = jest.spyOn(storage, 'put').mockImplementationOnce(async (key, body, type) => {
      await realPut(key, body, type);
      door.to(undefined);
    });

    try {
      expect((await upload(IMAGES.png)).status).toBe(200);
    } finally {
      put.mockRestore();
    }
    const current = (await app.app.get(DataSource).query(`SELECT avatar_key FROM users WHERE id = $1`, [alice.user.id])) as Array<{
      avatar_key: string;
    }>;
    const fresh = current[0].avatar_key;
    expect(fresh).not.toBe(old);
    expect(await queued()).toEqual([{ key: old, attempts: 1 }]);

    door.to(s3Port());
    await dueNow();
    await app.app.get(AvatarDiscards).run();

    expect(await stored()).toEqual([fresh]);
    expect(await queued()).toEqual([]);
    expect((await request('GET', '/api/v1/users/me/avatar', { token: alice.accessToken })).status).toBe(200);
  });

  it('deletes a file an upload stored but never pointed its user at (its process died between), a day later, and never the current one', async () => {
    expect((await upload(IMAGES.png)).status).toBe(200);
    const [current] = await stored();
    // An upload that planned and stored its file, then stopped: what a crash between the two leaves.
    const orphan = `avatars/${alice.user.id}/${randomUUID()}.png`;
    await app.app.get(AvatarDiscards).plan(alice.user.id, orphan);
    await app.app.get(ObjectStorage).put(orphan, IMAGES.png, 'image/png');
    // And, against a bug, a queued row naming the file in use.
    await app.app
      .get(DataSource)
      .query(`INSERT INTO avatar_discards (key, user_id, due_at) VALUES ($1, $2, now())`, [current, alice.user.id]);

    await app.app.get(AvatarDiscards).run();
    expect(await stored()).toEqual([current, orphan].sort()); // the upload might still be going: not due for a day

    await app.app.get(DataSource).query(`UPDATE avatar_discards SET due_at = now() - interval '1 second' WHERE key = $1`, [orphan]);
    await app.app.get(AvatarDiscards).run();

    expect(await stored()).toEqual([current]);
    expect(await queued()).toEqual([{ key: current, attempts: 0 }]); // left alone, not deleted
    expect((await request('GET', '/api/v1/users/me/avatar', { token: alice.accessToken })).status).toBe(200);
  });

  it("leaves no plan behind for a file that came into use, and deletes a failed upload's file a minute later", async () => {
    expect((await upload(IMAGES.png)).status).toBe(200);
    expect(await queued()).toEqual([]);

    // The database fails the swap after storage took the file: the file goes in a minute, not a day.
    const refusing = jest.spyOn(app.app.get(UserRepository), 'replaceAvatarKey').mockRejectedValueOnce(new Error('the database went away'));
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      expectErrorShape(await upload(IMAGES.png), 500, 'INTERNAL_ERROR');
    } finally {
      refusing.mockRestore();
      error.mockRestore();
    }
    expect(await stored()).toHaveLength(2);
    await eventually(async () => {
      const [due] = (await app.app
        .get(DataSource)
        .query(`SELECT due_at < now() + interval '2 minutes' AS soon FROM avatar_discards WHERE user_id = $1`, [alice.user.id])) as Array<{
        soon: boolean;
      }>;
      return due?.soon === true; // brought forward, in the background
    });
    await dueNow();
    await app.app.get(AvatarDiscards).run();

    expect(await stored()).toHaveLength(1); // the first avatar, still in use
    expect(await queued()).toEqual([]);
    expect((await request('GET', '/api/v1/users/me/avatar', { token: alice.accessToken })).status).toBe(200);
  });

  it('points the user at a new file only while no deletion has claimed its plan, so the two never both happen', async () => {
    const users = app.app.get(UserRepository);
    const discards = app.app.get(AvatarDiscards);
    const [claimed, free] = [randomUUID(), randomUUID()].map((id) => `avatars/${alice.user.id}/${id}.png`);
    await discards.plan(alice.user.id, claimed);
    await discards.plan(alice.user.id, free);
    // A deletion claimed the first plan (the upload looked failed, or took over a day) and is deleting its file.
    await app.app.get(DataSource).query(`UPDATE avatar_discards SET attempts = 1 WHERE key = $1`, [claimed]);

    expect(await users.replaceAvatarKey(alice.user.id, claimed)).toBe('unchanged');
    expect(await users.replaceAvatarKey(alice.user.id, free)).toEqual({ previous: null });

    expect(await queued()).toEqual([{ key: claimed, attempts: 1 }]);
    const current = (await app.app.get(DataSource).query(`SELECT avatar_key FROM users WHERE id = $1`, [alice.user.id])) as Array<{
      avatar_key: string;
    }>;
    expect(current[0].avatar_key).toBe(free);
  });
});
