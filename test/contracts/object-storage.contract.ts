import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { InvalidObjectKeyError } from '../../src/storage/object-key.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';

/** Keys the adapters must refuse before touching storage: escapes, absolute paths, odd characters. */
export const BAD_OBJECT_KEYS = [
  '',
  '/absolute.png',
  '..',
  '../escape.png',
  'a/../../escape.png',
  'a//b.png',
  'a/b/',
  'sp ace.png',
  'back\\slash.png',
  '.hidden',
];

/**
 * What every ObjectStorage adapter promises, as jest tests registered in the caller's describe.
 * The factory runs once, in beforeAll; the caller disposes of whatever it started. Keys live under
 * a fresh prefix per run, so the suite can share a bucket or folder with other data.
 */
export function objectStorageContract(factory: () => Promise<ObjectStorage> | ObjectStorage): void {
  let storage: ObjectStorage;
  const prefix = `contract-${randomUUID()}`;
  const key = (name: string) => `${prefix}/${name}`;

  beforeAll(async () => {
    storage = await factory();
  });

  describe('the ObjectStorage contract', () => {
    it('returns what was put, with its content type and size', async () => {
      const body = Buffer.from('hello, parley');
      await storage.put(key('round-trip.txt'), body, 'text/plain; charset=utf-8');

      expect(await storage.get(key('round-trip.txt'))).toEqual({
        body,
        contentType: 'text/plain; charset=utf-8',
        size: body.length,
      });
    });

    it('replaces the bytes and the content type when a key is put again', async () => {
      await storage.put(key('overwrite'), Buffer.from('first version, longer'), 'image/png');
      await storage.put(key('overwrite'), Buffer.from('second'), 'image/webp');

      expect(await storage.get(key('overwrite'))).toEqual({ body: Buffer.from('second'), contentType: 'image/webp', size: 6 });
    });

    it('returns undefined for a key that was never put', async () => {
      expect(await storage.get(key('never-put.png'))).toBeUndefined();
    });

    it('forgets a deleted object and accepts deleting it again', async () => {
      await storage.put(key('doomed.gif'), Buffer.from('GIF89a'), 'image/gif');

      await storage.delete(key('doomed.gif'));
      expect(await storage.get(key('doomed.gif'))).toBeUndefined();
      await expect(storage.delete(key('doomed.gif'))).resolves.toBeUndefined();
      await expect(storage.delete(key('never-existed.gif'))).resolves.toBeUndefined();
    });

    it('keeps neighbours under the same prefix apart', async () => {
      await storage.put(key('folder/one.png'), Buffer.from('one'), 'image/png');
      await storage.put(key('folder/two.png'), Buffer.from('two'), 'image/png');

      await storage.delete(key('folder/one.png'));

      expect(await storage.get(key('folder/one.png'))).toBeUndefined();
      expect((await storage.get(key('folder/two.png')))?.body.toString()).toBe('two');
      expect(await storage.get(key('folder'))).toBeUndefined();
    });

    it('keeps binary content intact, every byte value and a large random body', async () => {
      const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      const large = randomBytes(3 * 1024 * 1024 + 7);
      await storage.put(key('every-byte.bin'), everyByte, 'application/octet-stream');
      await storage.put(key('large.jpg'), large, 'image/jpeg');

      const small = await storage.get(key('every-byte.bin'));
      const big = await storage.get(key('large.jpg'));
      expect(small?.body.equals(everyByte)).toBe(true);
      expect(big?.size).toBe(large.length);
      expect(big?.body.equals(large)).toBe(true);
    });

    it('stores an empty body as an object of size zero', async () => {
      await storage.put(key('empty'), Buffer.alloc(0), 'application/octet-stream');

      expect(await storage.get(key('empty'))).toEqual({ body: Buffer.alloc(0), contentType: 'application/octet-stream', size: 0 });
    });

    it.each(BAD_OBJECT_KEYS)('rejects the key %j on put, get and delete', async (bad) => {
      await expect(storage.put(bad, Buffer.from('x'), 'text/plain')).rejects.toThrow(InvalidObjectKeyError);
      await expect(storage.get(bad)).rejects.toThrow(InvalidObjectKeyError);
      await expect(storage.delete(bad)).rejects.toThrow(InvalidObjectKeyError);
    });

    it('reports itself healthy', async () => {
      await expect(storage.check()).resolves.toBeUndefined();
    });
  });
}
