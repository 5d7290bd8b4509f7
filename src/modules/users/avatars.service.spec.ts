import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { UnsupportedMediaError, ValidationError } from '../../common/errors/domain-error.js';
import { ObjectStorage, type StoredObject } from '../../storage/object-storage.js';
import { AvatarsService } from './avatars.service.js';
import type { User } from './domain/user.js';
import type { UserRepository } from './user.repository.js';
import { toMe, type UsersService } from './users.service.js';

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
  const repository = {
    failNextReplace: false,
    /** The update commits, then the connection is lost before its answer arrives. */
    failAfterCommit: false,
    async replaceAvatarKey(_id: string, key: string | null) {
      if (this.failNextReplace) {
        this.failNextReplace = false;
        throw new Error('connection lost');
      }
      const previous = user.avatarKey;
      user.avatarKey = key;
      if (this.failAfterCommit) {
        this.failAfterCommit = false;
        throw new Error('connection lost after commit');
      }
      return previous;
    },
  };
  const users = { getOrFail: async () => ({ ...user }), me: async () => toMe(user) };
  const service = new AvatarsService(users as unknown as UsersService, repository as unknown as UserRepository, storage);
  return { user, storage, repository, service };
}

describe('AvatarsService', () => {
  it('refuses a missing file and non-images before touching storage', async () => {
    const { service, storage } = setUp();
    await expect(service.upload('u', undefined)).rejects.toBeInstanceOf(ValidationError);
    await expect(service.upload('u', Buffer.from('%PDF-1.7'))).rejects.toBeInstanceOf(UnsupportedMediaError);
    expect(storage.objects.size).toBe(0);
  });

  it('removes the new object again when the database does not take its key', async () => {
    const { service, storage, repository, user } = setUp();
    await service.upload(user.id, PNG);
    const kept = user.avatarKey;
    repository.failNextReplace = true;

    await expect(service.upload(user.id, PNG)).rejects.toThrow('connection lost');

    expect([...storage.objects.keys()]).toEqual([kept]);
    expect(user.avatarKey).toBe(kept);
  });

  it('keeps the new object when the database took its key but the answer was lost', async () => {
    const { service, storage, repository, user } = setUp();
    repository.failAfterCommit = true;

    await expect(service.upload(user.id, PNG)).rejects.toThrow('connection lost after commit');

    expect([...storage.objects.keys()]).toEqual([user.avatarKey]);
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

  it('removes the new object again when storing it failed as far as it knows (the answer lost), and says so if it cannot', async () => {
    const { service, storage, user } = setUp();
    const put = storage.put.bind(storage);
    const lost = jest.spyOn(storage, 'put').mockImplementationOnce(async (key, body, type) => {
      await put(key, body, type); // stored, but the answer never comes
      throw new Error('socket hang up');
    });
    try {
      await expect(service.upload(user.id, PNG)).rejects.toThrow('socket hang up');
      expect(storage.objects.size).toBe(0);
      expect(user.avatarKey).toBeNull();
    } finally {
      lost.mockRestore();
    }
  });

  it('still succeeds when the old object cannot be deleted, and says which object is orphaned', async () => {
    const { service, storage, user } = setUp();
    await service.upload(user.id, PNG);
    const old = user.avatarKey!;
    storage.failDeletes = true;
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const me = await service.upload(user.id, PNG);

      expect(me.avatarUrl).toContain(`/api/v1/users/${user.id}/avatar?v=`);
      expect(user.avatarKey).not.toBe(old);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`Could not delete avatar object ${old}`));
    } finally {
      warn.mockRestore();
    }
  });

  it('serves stored bytes with the type their content shows, whatever type the store recorded', async () => {
    const { service, storage, user } = setUp();
    await service.upload(user.id, PNG);
    storage.objects.set(user.avatarKey!, { body: PNG, contentType: 'text/html', size: PNG.length });

    expect((await service.read(user.id)).contentType).toBe('image/png');
  });
});
