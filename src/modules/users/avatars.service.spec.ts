import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { UnsupportedMediaError, ValidationError } from '../../common/errors/domain-error.js';
import { ObjectStorage, type StoredObject } from '../../storage/object-storage.js';
import type { AvatarDiscards } from './avatar-discards.js';
import { AvatarsService } from './avatars.service.js';
import type { User } from './domain/user.js';
import type { UserRepository } from './user.repository.js';
import { toMe } from './dto/user.dto.js';
import type { UsersService } from './users.service.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

class MemoryStorage extends ObjectStorage {
  readonly mode = 'local-files' as const;
  readonly objects = new Map<string, StoredObject>();
  failDeletes = false;

  async put(key: string, body: Buffer, contentType: string) {
    this.objects.set(key, { body, contentType, size: body.length });
  }
  async get(key: string) {
    return this.objects.get(key);
  }
  async delete(key: string) {
    if (this.failDeletes) throw new Error('bucket is read-only');
    this.objects.delete(key);
  }
  async check() {}
}

function setUp() {
  const user: User = {
    id: '6f1c2a8e-0000-4000-8000-000000000001',
    email: 'ada@example.com',
    name: 'Ada',
    passwordHash: 'x',
    emailConfirmedAt: null,
    avatarKey: null,
    lastSeenAt: null,
    createdAt: new Date('2026-01-01T00:00:00Z'),
  };
  const storage = new MemoryStorage();
  /** AvatarDiscards as the service sees it: planned files, queued ones, and deletes done at once. */
  const discards = {
    planned: new Set<string>(),
    queued: new Set<string>(),
    abandoned: [] as string[],
    async plan(_userId: string, key: string) {
      this.planned.add(key);
    },
    abandon(key: string) {
      this.abandoned.push(key);
    },
    async deleteNow(key: string) {
      await storage.delete(key).then(
        () => this.queued.delete(key),
        () => undefined, // stays queued
      );
    },
  };
  // What UserRepository.replaceAvatarKey does in one statement.
  const repository = {
    failNextReplace: false,
    /** The update commits, then the connection is lost before its answer arrives. */
    failAfterCommit: false,
    async replaceAvatarKey(_id: string, key: string | null) {
      if (this.failNextReplace) {
        this.failNextReplace = false;
        throw new Error('connection lost');
      }
      if (key !== null && !discards.planned.delete(key)) return 'unchanged' as const;
      const previous = user.avatarKey;
      if (previous) discards.queued.add(previous);
      user.avatarKey = key;
      if (this.failAfterCommit) {
        this.failAfterCommit = false;
        throw new Error('connection lost after commit');
      }
      return { previous };
    },
  };
  const users = { getOrFail: async () => Object.assign({}, user), me: async () => toMe(user) };
  const service = new AvatarsService(
    users as unknown as UsersService,
    repository as unknown as UserRepository,
    storage,
    discards as unknown as AvatarDiscards,
  );
  return { user, storage, repository, discards, service };
}

describe('AvatarsService', () => {
  it('refuses a missing file and non-images before touching storage', async () => {
    const { service, storage } = setUp();
    await expect(service.upload('u', undefined)).rejects.toBeInstanceOf(ValidationError);
    await expect(service.upload('u', Buffer.from('%PDF-1.7'))).rejects.toBeInstanceOf(UnsupportedMediaError);
    expect(storage.objects.size).toBe(0);
  });

  it('leaves the new file to be deleted when the database does not take its key, the old avatar kept', async () => {
    const { service, storage, repository, discards, user } = setUp();
    await service.upload(user.id, PNG);
    const kept = user.avatarKey;
    repository.failNextReplace = true;

    await expect(service.upload(user.id, PNG)).rejects.toThrow('connection lost');

    const [stored] = [...storage.objects.keys()].filter((key) => key !== kept);
    expect(discards.abandoned).toEqual([stored]);
    expect(discards.planned).toEqual(new Set([stored])); // so it goes even if abandoning it fails
    expect(user.avatarKey).toBe(kept);
  });

  it('keeps the new file when the database took its key but the answer was lost: its plan went with the swap', async () => {
    const { service, storage, repository, discards, user } = setUp();
    repository.failAfterCommit = true;

    await expect(service.upload(user.id, PNG)).rejects.toThrow('connection lost after commit');

    expect([...storage.objects.keys()]).toEqual([user.avatarKey]);
    expect(discards.planned.size).toBe(0); // abandoning it finds no plan to make due
  });

  it('answers a failed store at once, leaving the file (if storage kept it) to be deleted in the background', async () => {
    const { service, storage, discards, user } = setUp();
    jest.spyOn(storage, 'put').mockRejectedValueOnce(new Error('socket hang up'));
    const deleting = jest.spyOn(storage, 'delete').mockImplementation(() => new Promise<void>(() => undefined)); // storage gone silent

    await expect(service.upload(user.id, PNG)).rejects.toThrow('socket hang up');

    expect(deleting).not.toHaveBeenCalled();
    expect(discards.abandoned).toHaveLength(1);
    expect(user.avatarKey).toBeNull();
  });

  it('answers 503 and abandons the file when its plan was gone (the upload took longer than its grace)', async () => {
    const { service, discards, user } = setUp();
    jest.spyOn(discards, 'plan').mockResolvedValueOnce(undefined);

    await expect(service.upload(user.id, PNG)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });

    expect(discards.abandoned).toHaveLength(1);
    expect(user.avatarKey).toBeNull();
  });

  it('serves the new avatar when the one it read was replaced before its object could be fetched', async () => {
    const { service, storage, user } = setUp();
    await service.upload(user.id, PNG);
    const get = storage.get.bind(storage);
    const replacing = jest.spyOn(storage, 'get').mockImplementationOnce(async (key) => {
      await service.upload(user.id, PNG); // a concurrent upload deletes `key`
      return get(key);
    });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const image = await service.read(user.id);
      expect(image.etag).toBe(`"${user.avatarKey!.split('/').pop()}"`);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      replacing.mockRestore();
      warn.mockRestore();
    }
  });

  it('serves the newest avatar however many uploads replace it while it is read; answers 503, not 404, when they never stop', async () => {
    const { service, storage, user } = setUp();
    await service.upload(user.id, PNG);
    const get = storage.get.bind(storage);
    let replacements = 2;
    const replacing = jest.spyOn(storage, 'get').mockImplementation(async (key) => {
      if (replacements-- > 0) await service.upload(user.id, PNG); // deletes `key`
      return get(key);
    });
    try {
      expect((await service.read(user.id)).etag).toBe(`"${user.avatarKey!.split('/').pop()}"`);
      replacements = Infinity;
      await expect(service.read(user.id)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryAfterSeconds: 1 });
    } finally {
      replacing.mockRestore();
    }
  });

  it('still succeeds when the old file cannot be deleted now, which stays queued', async () => {
    const { service, storage, discards, user } = setUp();
    await service.upload(user.id, PNG);
    const old = user.avatarKey!;
    storage.failDeletes = true;

    const me = await service.upload(user.id, PNG);

    expect(me.avatarUrl).toContain(`/api/v1/users/${user.id}/avatar?v=`);
    expect(user.avatarKey).not.toBe(old);
    expect(discards.queued).toEqual(new Set([old]));
    expect(storage.objects.has(old)).toBe(true);
  });

  it("deletes the removed avatar's file, or leaves it queued while storage fails", async () => {
    const { service, storage, discards, user } = setUp();
    await service.upload(user.id, PNG);
    const first = user.avatarKey!;
    storage.failDeletes = true;
    await service.remove(user.id);
    expect(user.avatarKey).toBeNull();
    expect(discards.queued).toEqual(new Set([first]));

    storage.failDeletes = false;
    await service.upload(user.id, PNG);
    await service.remove(user.id);
    expect([...storage.objects.keys()]).toEqual([first]); // the second went at once; the first waits for its retry
  });

  it('serves stored bytes with the type their content shows, whatever type the store recorded', async () => {
    const { service, storage, user } = setUp();
    await service.upload(user.id, PNG);
    storage.objects.set(user.avatarKey!, { body: PNG, contentType: 'text/html', size: PNG.length });

    expect((await service.read(user.id)).contentType).toBe('image/png');
  });
});
