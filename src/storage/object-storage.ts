export interface StoredObject {
  body: Buffer;
  contentType: string;
  /** Length of body in bytes. */
  size: number;
}

export type ObjectStorageMode = 'local-files' | 's3';

/**
 * Where uploaded files (avatars) live: plain files under DATA_DIR, or an S3-compatible bucket.
 * Keys are chosen by the server, never by a client; see object-key.ts for what a key may contain.
 */
export abstract class ObjectStorage {
  abstract readonly mode: ObjectStorageMode;

  /** Stores body under key, replacing whatever was there. */
  abstract put(key: string, body: Buffer, contentType: string): Promise<void>;

  /** The object under key, or undefined when there is none. */
  abstract get(key: string): Promise<StoredObject | undefined>;

  /** Removes the object under key; removing a key that holds nothing is not an error. */
  abstract delete(key: string): Promise<void>;

  /** Resolves when the storage can serve requests; rejects with the reason otherwise (for /health/ready). */
  abstract check(): Promise<void>;
}
