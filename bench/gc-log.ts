/**
 * Garbage collections of a process, recorded as they happen and summed up over a window: the
 * server's (reported over IPC by server-entry.ts) and the load client's own. A collection's pause
 * holds up every frame that process has in hand, so it lands in the latency figures of whichever
 * side it happens on.
 */
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

/** A process's garbage collections during a window. */
export interface GcSummary {
  /** Milliseconds per second the main thread spent collecting (every kind of collection step). */
  msPerSecond: number;
  /** Young-generation collections (scavenges) per second. */
  minorPerSecond: number;
  /** Full (mark-compact) collections in the window. */
  major: number;
  /** When each full collection's pause started, in seconds into the window (to set against p99BySecond). */
  majorAt: number[];
  /** How fast the old generation grew, in bytes per second, over the window's full-collection-free stretches. */
  oldGrowthPerSecond: number;
  /** The longest single pause, in ms. */
  longestMs: number;
}

/** [time, kind, ms] of one collection; time on the shared clock, `performance.timeOrigin + now`. */
export type Collection = [number, string, number];
/** [time, bytes] of the old generation's size. */
export type OldGenerationSample = [number, number];

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};

/**
 * Watches this process's collections and hands them over every `intervalMs`, with the old
 * generation's size at that moment: how fast it grows between full collections is what survived
 * young collections (or was allocated old), and sets how often the full collections come.
 */
export function watchGc(intervalMs: number, report: (collections: Collection[], old: OldGenerationSample) => void): void {
  let collections: Collection[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      collections.push([performance.timeOrigin + entry.startTime, kind, entry.duration]);
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    report(collections, [performance.timeOrigin + performance.now(), oldGenerationBytes()]);
    collections = [];
  }, intervalMs).unref();
}

/** Bytes in V8's old generation (old objects and large objects) now. */
function oldGenerationBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'old_space' || space.space_name === 'large_object_space') bytes += space.space_used_size;
  }
  return bytes;
}

/** What `watchGc` reported, kept for summing up over windows. */
export class GcLog {
  private readonly collections: Collection[] = [];
  private readonly oldGeneration: OldGenerationSample[] = [];

  add(collections: Collection[], old?: OldGenerationSample): void {
    this.collections.push(...collections);
    if (old) this.oldGeneration.push(old);
  }

  /**
   * The collections that started in [from, to) (times on the shared clock). Reports come a few
   * times a second, so ask a moment after the window has ended.
   */
  between(from: number, to: number): GcSummary {
    const seconds = (to - from) / 1000;
    let ms = 0;
    let minor = 0;
    const majorAt: number[] = [];
    let longestMs = 0;
    for (const [time, kind, duration] of this.collections) {
      if (time < from || time >= to) continue;
      ms += duration;
      longestMs = Math.max(longestMs, duration);
      if (kind === 'minor') minor++;
      else if (kind === 'major') majorAt.push(Math.round((time - from) / 100) / 10);
    }
    // Growth between consecutive samples, leaving out the steps a full collection shrank it in.
    let grown = 0;
    let previous: OldGenerationSample | undefined;
    for (const sample of this.oldGeneration) {
      if (sample[0] < from || sample[0] >= to) continue;
      if (previous && sample[1] > previous[1]) grown += sample[1] - previous[1];
      previous = sample;
    }
    return {
      msPerSecond: ms / seconds,
      minorPerSecond: minor / seconds,
      major: majorAt.length,
      majorAt,
      oldGrowthPerSecond: grown / seconds,
      longestMs,
    };
  }
}
