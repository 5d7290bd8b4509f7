import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import {
  NotFoundError,
  TooLargeError,
  UnavailableError,
  UnsupportedMediaError,
  ValidationError,
} from '../../common/errors/domain-error.js';
import { detectImageType, type ImageMime, imageSize } from '../../storage/image-type.js';
import { ObjectStorage } from '../../storage/object-storage.js';
import { AVATAR_MAX_PIXELS, AVATAR_MAX_SIDE, avatarObjectKey, avatarVersionOf } from './domain/avatar.js';
import type { MeDto } from './dto/user.dto.js';
import { UserRepository } from './user.repository.js';
import { UsersService } from './users.service.js';
import { errorMessage } from '../../common/errors/error-message.js';

/** Fetches of a user's avatar tried in one read while uploads keep replacing it. */
const MAX_REPLACED_READS = 5;

export interface AvatarImage {
  body: Buffer;
  contentType: ImageMime | 'application/octet-stream';
  /** The `v` of avatarUrl for this image; a request carrying it may be cached for good. */
  version: string;
  /** Identifies these exact bytes (the object key never changes its content). */
  etag: string;
}

/**
 * Avatars: images judged by their bytes, stored through ObjectStorage under keys the server makes.
 * Every upload gets a new key, so a key's bytes never change and URLs can be cached by version.
 */
@Injectable()
export class AvatarsService {
  private readonly logger = new Logger('Avatars');

  constructor(
    private readonly users: UsersService,
    private readonly repository: UserRepository,
    private readonly storage: ObjectStorage,
  ) {}

  /**
   * Stores the new image, then points the user at it, then deletes the old one: a failure at any
   * step leaves the user with a working avatar (old or new), at worst with an orphaned object.
   */
  async upload(userId: string, bytes: Buffer | undefined): Promise<MeDto> {
    if (!bytes) {
      const message = 'Send the image as multipart/form-data in the field "file".';
      throw new ValidationError(message, [{ field: 'file', message: 'file is required' }]);
    }
    const type = detectImageType(bytes);
    if (!type) {
      throw new UnsupportedMediaError(
        'UNSUPPORTED_MEDIA_TYPE',
        'The avatar must be a PNG, JPEG, WebP or GIF image; this file is none of those by its content (its name and declared type are not looked at).',
      );
    }
    const size = imageSize(bytes, type.mime);
    if (!size) {
      throw new UnsupportedMediaError(
        'UNSUPPORTED_MEDIA_TYPE',
        `The avatar starts like a ${type.ext.toUpperCase()} image but its header is cut short or malformed; send the whole image.`,
      );
    }
    if (size.width > AVATAR_MAX_SIDE || size.height > AVATAR_MAX_SIDE || size.width * size.height > AVATAR_MAX_PIXELS) {
      throw new TooLargeError(
        'FILE_TOO_LARGE',
        `The avatar is ${size.width}×${size.height} pixels; it may be at most ${AVATAR_MAX_SIDE} a side and ${AVATAR_MAX_PIXELS / 1_000_000} megapixels. Send a smaller image.`,
      );
    }
    await this.users.getOrFail(userId);

    const key = avatarObjectKey(userId, randomUUID(), type.ext);
    try {
      await this.storage.put(key, bytes, type.mime);
    } catch (error) {
      // Storage may have kept it although its answer never came (a reset, a timeout): nothing
      // refers to it, so it goes (or is named in the log, if storage cannot take that either).
      await this.discard(key, 'storing it failed');
      throw error;
    }
    let previous: string | null;
    try {
      previous = await this.repository.replaceAvatarKey(userId, key);
    } catch (error) {
      // The update may have committed before the error reached us (a connection lost after the
      // commit): then the user points at the new object, and deleting it would break their avatar.
      const current = await this.users.getOrFail(userId).then(
        (user) => user.avatarKey,
        () => undefined,
      );
      if (current !== key) await this.discard(key, 'the upload failed');
      throw error;
    }
    if (previous && previous !== key) await this.discard(previous, 'it was replaced');
    return this.users.me(userId);
  }

  /** Clears the avatar and deletes its object; removing an avatar that is not there is not an error. */
  async remove(userId: string): Promise<void> {
    await this.users.getOrFail(userId);
    const previous = await this.repository.replaceAvatarKey(userId, null);
    if (previous) await this.discard(previous, 'it was removed');
  }

  async read(userId: string): Promise<AvatarImage> {
    let user = await this.users.getOrFail(userId);
    if (!user.avatarKey) throw avatarNotFound();
    let stored = await this.storage.get(user.avatarKey);
    // Replaced (its object deleted) between reading the user and fetching it: serve the new one,
    // however many times that happens in a row (each time, someone uploaded again).
    for (let tries = 1; !stored; tries++) {
      const again = await this.users.getOrFail(userId);
      if (!again.avatarKey) throw avatarNotFound();
      if (again.avatarKey === user.avatarKey) {
        this.logger.warn(`User ${userId} has avatar ${user.avatarKey}, but object storage has no such object; answering 404.`);
        throw avatarNotFound();
      }
      if (tries >= MAX_REPLACED_READS) {
        // Not "no avatar" (a 404 would show a broken image): the one it has is hard to catch.
        throw new UnavailableError(
          'STORAGE_UNAVAILABLE',
          'This avatar is being replaced again and again right now; ask again in a moment.',
          1,
        );
      }
      user = again;
      stored = await this.storage.get(again.avatarKey!);
    }
    const avatarKey = user.avatarKey!;
    const version = avatarVersionOf(avatarKey);
    return {
      body: stored.body,
      // Judged again from the bytes: whatever sits in the bucket, nothing else is served as an image.
      contentType: detectImageType(stored.body)?.mime ?? 'application/octet-stream',
      version,
      etag: `"${avatarKey.split('/').pop()}"`,
    };
  }

  /** The key is already unreferenced; failing to delete it must not fail the request that made it so. */
  private async discard(key: string, why: string): Promise<void> {
    try {
      await this.storage.delete(key);
    } catch (error) {
      this.logger.warn(
        `Could not delete avatar object ${key} after ${why}: ${errorMessage(error)}; if storage holds it, it is orphaned and may be removed by hand.`,
      );
    }
  }
}

function avatarNotFound(): NotFoundError {
  return new NotFoundError('AVATAR_NOT_FOUND', 'This user has no avatar.');
}
