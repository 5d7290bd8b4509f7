import type { ImageExt } from '../../../storage/image-type.js';

/** Largest avatar accepted, in bytes (5 MiB). */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;

/**
 * Largest picture accepted, as its header declares it: every viewer decodes an avatar, and a few
 * bytes of PNG can declare billions of pixels. A 12 MP phone photo (4032×3024) fits.
 */
export const AVATAR_MAX_SIDE = 8192;
export const AVATAR_MAX_PIXELS = 40_000_000;

/** The server-made object key of one uploaded avatar; a fresh id per upload, so a key is never overwritten. */
export function avatarObjectKey(userId: string, uploadId: string, ext: ImageExt): string {
  return `avatars/${userId}/${uploadId}.${ext}`;
}

/**
 * The short version tag of an avatar key (the start of its upload id). It goes into avatarUrl as
 * `?v=`, so a new upload changes the URL and caches may keep each version for good.
 */
export function avatarVersionOf(key: string): string {
  return key.split('/').pop()?.split('.')[0]?.slice(0, 8) ?? '';
}
