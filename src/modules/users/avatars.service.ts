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
import { AvatarDiscards } from './avatar-discards.js';

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
    private readonly discards: AvatarDiscards,
  ) {}

  /**
   * Plans the new file's deletion, stores it, then points the user at it (dropping the plan) and
   * queues the old one's deletion in the same statement, then deletes the old one: a failure at any
   * step leaves the user with a working avatar (old or new), and every file no one points at is
   * deleted, now or, while storage fails, later (AvatarDiscards).
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
    await this.discards.plan(userId, key);
    let swapped: Awaited<ReturnType<UserRepository['replaceAvatarKey']>>;
    try {
      await this.storage.put(key, bytes, type.mime);
      swapped = await this.repository.replaceAvatarKey(userId, key);
    } catch (error) {
      // Storage may have kept the file although its answer never came (a reset, a timeout), and the
      // swap may have committed although its answer never came (a connection lost after the commit):
      // then the plan went with it, and this finds nothing to do.
      this.discards.abandon(key);
      throw error;
    }
    if (swapped === 'unchanged') {
      // Its file was deleted as abandoned meanwhile (the upload took over a day), or the user went.
      this.discards.abandon(key);
      await this.users.getOrFail(userId);
      throw new UnavailableError('STORAGE_UNAVAILABLE', 'Storing the avatar took too long; send it again.', 1);
    }
    if (swapped.previous) await this.discards.deleteNow(swapped.previous);
    return this.users.me(userId);
  }

  /**
   * Clears the avatar; its file is deleted now or, while storage fails, later (AvatarDiscards), but
   * is not served from the moment this returns. Removing an avatar that is not there is not an error.
   */
  async remove(userId: string): Promise<void> {
    await this.users.getOrFail(userId);
    const swapped = await this.repository.replaceAvatarKey(userId, null);
    if (swapped !== 'unchanged' && swapped.previous) await this.discards.deleteNow(swapped.previous);
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
}

function avatarNotFound(): NotFoundError {
  return new NotFoundError('AVATAR_NOT_FOUND', 'This user has no avatar.');
}
