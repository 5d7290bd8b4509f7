import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'minio';
import { loadConfig, type S3Config } from '../../src/config/app-config.js';

// s3rver is CommonJS without type declarations; this is the part of it the tests use.
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rverServer;

/** s3rver checks V4 signatures for nothing but knows only this key pair. */
export const S3RVER_KEY = 'S3RVER';

export interface FakeS3 {
  url: string;
  /** S3_* variables that point Parley at this server, for the given bucket. */
  env(bucket: string): Record<string, string>;
  config(bucket: string): S3Config;
  /** A plain minio client, for looking at the server from outside the adapter. */
  client: Client;
  /** Keys in the bucket under prefix, sorted. */
  keys(bucket: string, prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A real S3 API (s3rver) on a random loopback port, storing under a temp directory. */
export async function startFakeS3(): Promise<FakeS3> {
  const directory = mkdtempSync(join(tmpdir(), 'parley-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  const url = `http://127.0.0.1:${port}`;
  const env = (bucket: string) => ({ S3_ENDPOINT: url, S3_ACCESS_KEY: S3RVER_KEY, S3_SECRET_KEY: S3RVER_KEY, S3_BUCKET: bucket });
  const client = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey: S3RVER_KEY, secretKey: S3RVER_KEY, pathStyle: true });
  return {
    url,
    env,
    config: (bucket) => loadConfig({ MODULES: 'health', ...env(bucket) }).storage.s3!,
    client,
    keys: async (bucket, prefix) => {
      const keys: string[] = [];
      for await (const item of client.listObjectsV2(bucket, prefix, true)) if (item.name) keys.push(item.name);
      return keys.sort();
    },
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
