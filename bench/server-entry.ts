/**
 * How the bench starts a server under test: `node --expose-gc dist/bench/server-entry.js <script>`
 * runs <script> (Parley's dist/src/main.js, or the bare relay) unchanged, with two additions:
 *
 * - The message 'memory' on the IPC channel runs a full garbage collection and answers with
 *   process.memoryUsage(), so memory per connection is measured on live objects rather than on
 *   whatever garbage and heap headroom happened to be around. (Not a signal: Nest's shutdown
 *   hooks take SIGUSR2 and every other catchable one as "shut down".)
 * - `{ profile: 'start' }` and `{ profile: 'stop', file }` on the IPC channel run V8's CPU profiler
 *   (through node:inspector) over one phase only and write it as a .cpuprofile, answered with
 *   `{ profiled: file }`. A whole-process profile would be mostly the saturation phase, which
 *   says little about where the time goes at a fixed, lower load.
 * - Every garbage collection is reported on the IPC channel, a few times a second, as
 *   `{ gc: [[time, kind, ms], ...] }` (time on the shared clock, `performance.timeOrigin + now`),
 *   so each phase can say how much of it the server spent collecting, and how long the longest
 *   pause was: a pause holds up every frame in flight, so it lands in the latency figures. With
 *   them goes the old generation's size (`old: [time, bytes]`): how fast it grows between full
 *   collections is what survived young collections (or was allocated old), and sets how often
 *   the full collections come.
 * - An orderly exit on SIGTERM, so that Nest's shutdown hooks finish. Nest's shutdown hook ends
 *   by re-raising the signal on itself; this listener outlives Nest's, so the re-raised signal
 *   lands here and exits normally.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { watchGc } from './gc-log.js';

const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node --expose-gc server-entry.js <script.js>\n');
  process.exit(64);
}
process.argv.splice(2, 1);

let profiler: Session | undefined;

watchGc(250, (collections, old) => {
  if (process.connected) process.send?.({ gc: collections, old });
});
process.on('message', (message: unknown) => {
  if (typeof message === 'object' && message !== null && 'profile' in message) {
    void profile(message as { profile: 'start' | 'stop'; file?: string });
    return;
  }
  if (message !== 'memory') return;
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice, a moment apart: the first full GC leaves weak callbacks and finalizers that free more on the second.
  gc?.();
  setTimeout(() => {
    gc?.();
    process.send?.({ memory: { gc: gc !== undefined, ...process.memoryUsage() } });
  }, 200);
});
async function profile(request: { profile: 'start' | 'stop'; file?: string }): Promise<void> {
  try {
    if (request.profile === 'start') {
      // A profile left running (its stop never came) is dropped, not left sampling for the rest of the run.
      if (profiler) {
        await profiler.post('Profiler.stop').catch(() => undefined);
        profiler.disconnect();
      }
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      // 1 ms, V8's own default for --cpu-prof: fine enough for per-message work.
      await profiler.post('Profiler.setSamplingInterval', { interval: 1000 });
      await profiler.post('Profiler.start');
      process.send?.({ profiling: true });
      return;
    }
    if (!profiler || !request.file) throw new Error('profile stop without a start, or without a file');
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    writeFileSync(request.file, JSON.stringify(profile));
    process.send?.({ profiled: request.file });
  } catch (error) {
    process.send?.({ profileError: String(error) });
  }
}

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
