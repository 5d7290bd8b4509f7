import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { SetupError } from '../common/errors/setup-error.js';
import { makeDirectory } from '../common/fs/make-directory.js';
import { assertValidObjectKey, InvalidObjectKeyError } from './object-key.js';
import { ObjectStorage, type StoredObject } from './object-storage.js';
import { errorMessage } from '../common/errors/error-message.js';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Temp files older than this are leftovers of a crash; younger ones may belong to a write in flight. */
const STALE_TEMP_MS = 60 * 60 * 1000;

interface ObjectMeta {
  contentType: string;
}

/**
 * Objects as plain files: `<root>/<key>` holds the bytes exactly as uploaded (easy to inspect and
 * back up), `<root>/.meta/<key>.json` the content type, and `<root>/.tmp/` the files being written.
 * Keys never have a segment starting with a dot, so neither dot-folder can collide with a key.
 *
 * Each file is replaced atomically (written to .tmp, synced, renamed into place). The metadata is
 * renamed first and the bytes last, so a reader never sees bytes without their type; two
 * concurrent puts of one key may leave one's type with the other's bytes, which the server's
 * write-once keys (a fresh UUID per upload) never do.
 */
export class LocalFileStorage extends ObjectStorage {
  readonly mode = 'local-files' as const;
  private readonly root: string;
  private readonly metaDir: string;
  private readonly tempDir: string;

  constructor(root: string) {
    super();
    this.root = resolve(root);
    this.metaDir = join(this.root, '.meta');
    this.tempDir = join(this.root, '.tmp');
  }

  /** Creates the folders and proves they are writable, so a bad DATA_DIR stops the start rather than the first upload. */
  async init(): Promise<void> {
    try {
      for (const dir of [this.root, this.metaDir, this.tempDir]) await makeDirectory(dir);
      await this.check();
    } catch (error) {
      throw new SetupError(
        `The object storage directory ${this.root} is not usable: ${errorMessage(error)}; make it a writable directory, set DATA_DIR to one, or configure the S3_* variables.`,
      );
    }
    await this.removeStaleTempFiles();
  }

  async check(): Promise<void> {
    await access(this.root, constants.R_OK | constants.W_OK | constants.X_OK);
    await access(this.tempDir, constants.W_OK);
    await access(this.metaDir, constants.W_OK);
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    const file = this.objectPath(key);
    const metaFile = this.metaPath(key);
    const meta: ObjectMeta = { contentType };
    try {
      await makeDirectory(dirname(metaFile));
      await makeDirectory(dirname(file));
      await this.writeAtomically(metaFile, Buffer.from(JSON.stringify(meta)));
      await this.writeAtomically(file, body);
    } catch (error) {
      if (isErrno(error, 'EISDIR', 'ENOTDIR', 'EEXIST')) {
        throw new Error(
          `Cannot store ${JSON.stringify(key)}: in local-files storage a key cannot also be the folder of another key (${errorMessage(error)}).`,
        );
      }
      throw error;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    let body: Buffer;
    try {
      body = await readFile(this.objectPath(key));
    } catch (error) {
      // EISDIR: the key names a folder of other keys; ENOTDIR: a parent of the key is itself an object.
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw error;
    }
    return { body, contentType: await this.readContentType(key), size: body.length };
  }

  async delete(key: string): Promise<void> {
    // Bytes first: once they are gone the object is gone, even if removing the metadata fails.
    await unlinkIfPresent(this.objectPath(key));
    await unlinkIfPresent(this.metaPath(key));
  }

  private objectPath(key: string): string {
    return this.inside(this.root, key, '');
  }

  private metaPath(key: string): string {
    return this.inside(this.metaDir, key, '.json');
  }

  /** The validation already forbids escaping; the prefix check keeps it so if the rules ever loosen. */
  private inside(base: string, key: string, suffix: string): string {
    assertValidObjectKey(key);
    const path = resolve(base, key + suffix);
    if (!path.startsWith(base + sep)) throw new InvalidObjectKeyError(key, 'it points outside the storage directory');
    return path;
  }

  private async readContentType(key: string): Promise<string> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Partial<ObjectMeta>;
      return typeof meta.contentType === 'string' && meta.contentType ? meta.contentType : DEFAULT_CONTENT_TYPE;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR') || error instanceof SyntaxError) return DEFAULT_CONTENT_TYPE;
      throw error;
    }
  }

  private async writeAtomically(target: string, data: Buffer): Promise<void> {
    const temp = join(this.tempDir, randomUUID());
    try {
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await unlinkIfPresent(temp);
      throw error;
    }
  }

  private async removeStaleTempFiles(): Promise<void> {
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await readdir(this.tempDir)) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < cutoff) await unlinkIfPresent(path);
    }
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw error;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException)?.code ?? '');
}
