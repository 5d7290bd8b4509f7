/**
 * How the bench starts a server under test: `node --expose-gc dist/bench/server-entry.js <script>`
 * runs <script> (Parley's dist/src/main.js, or the bare relay) unchanged, with two additions:
 *
 * - The message 'memory' on the IPC channel runs a full garbage collection and answers with
 *   process.memoryUsage(), so memory per connection is measured on live objects rather than on
 *   whatever garbage and heap headroom happened to be around. (Not a signal: Nest's shutdown
 *   hooks take SIGUSR2 and every other catchable one as "shut down".)
 * - An orderly exit on SIGTERM, so `node --cpu-prof` writes its profile. Nest's shutdown hook ends
 *   by re-raising the signal on itself, which would kill the process before that; this listener
 *   outlives Nest's, so the re-raised signal lands here and exits normally.
 */
import { pathToFileURL } from 'node:url';

const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node --expose-gc server-entry.js <script.js>\n');
  process.exit(64);
}
process.argv.splice(2, 1);

process.on('message', (message) => {
  if (message !== 'memory') return;
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice, a moment apart: the first full GC leaves weak callbacks and finalizers that free more on the second.
  gc?.();
  setTimeout(() => {
    gc?.();
    process.send?.({ memory: { gc: gc !== undefined, ...process.memoryUsage() } });
  }, 200);
});
// The channel must not keep the server alive once it has shut down.
process.channel?.unref();

let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (++signals >= 2) process.exit(0);
    setTimeout(() => process.exit(0), 15_000).unref();
  });
}

await import(pathToFileURL(script).href);
