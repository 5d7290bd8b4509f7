import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { config as loadDotEnv } from 'dotenv';
import { createApp } from './app.factory.js';
import { ConfigError } from './config/env-reader.js';
import { loadConfig } from './config/app-config.js';
import { AppLogger } from './common/logging/app-logger.js';

// Let the old generation double before the next full collection, instead of V8's own choice
// here, which after a shrinking collection was ~1.15x: with Parley's live heap (~60 MB for 1,000
// sockets) and ~8 MB/s promoted at the bench's 25% load, that meant a full collection every ~2 s,
// and each one set a second's p99 at 55–75 ms. Doubling makes it one every ~8 s, for at most
// about one live heap more of memory (docs/bench.md, fourth round). Set before any collection
// has sized the heap; V8 reads it at each full collection.
setFlagsFromString('--heap-growing-percent=100');
// No allocation-site pretenuring. During a burst (the bench's saturation phase) a send's objects
// live long enough to survive young collections, so V8 marks the sites that allocate them
// "allocate old" and keeps them so after the burst: at a steady 25% load that put ~1 KB per send
// (~2 MB/s) straight into the old generation. Without it 25–50 KB/s reach the old generation and
// full collections all but stop (docs/bench.md, fifth round).
setFlagsFromString('--no-allocation-site-pretenuring');

loadDotEnv({ quiet: true });

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(error.message + '\n');
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = new AppLogger(config.log.level, config.log.format);
  const app = await createApp(config, logger);
  app.enableShutdownHooks();
  await app.listen(config.http.port);

  const base = config.http.publicUrl;
  const backends = Object.entries(config.describeBackends()).map(([k, v]) => `  ${k.padEnd(14)} ${v}`);
  logger.log(
    [
      `Parley is up (${config.appEnv}) on port ${config.http.port}`,
      `  API            ${base}/api/v1`,
      `  Docs           ${base}/api/docs`,
      `  Test chat page ${base}/ui`,
      `  WebSocket      ${base.replace(/^http/, 'ws')}/ws`,
      `  Health         ${base}/health/ready`,
      `  Modules        ${[...config.modules].join(', ')}`,
      ...backends,
    ].join('\n'),
    'Parley',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`Parley failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
