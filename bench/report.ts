import type { CatchUpResult, CorrectnessResult, PhaseResult } from './load.js';
import type { BenchOptions } from './options.js';
import type { ProfileSummary } from './profile.js';
import { type Spread, round, spread } from './stats.js';

export type SystemName = 'bare' | 'parley';

export interface SystemRun {
  system: SystemName;
  pair: number;
  startupMs: number;
  memory: {
    /** Server RSS after a full GC, before the U connections (a few warm-up connections came and went). */
    baselineBytes: number;
    /** Server RSS after a full GC with the U connections open and quiet. */
    idleBytes: number;
    /** Highest server RSS sampled during the saturation window. */
    saturationBytes: number;
    /**
     * Memory the U connections hold: (V8 heap used + external) after a full GC with them open,
     * minus the same before, over U. Live objects only; RSS deltas swing by megabytes with heap
     * headroom and what the GC hands back, more than 1,000 connections weigh.
     */
    bytesPerConnection: number;
    /** (idle − baseline RSS) / U, for reference; noisy for the reason above. */
    rssBytesPerConnection: number;
  };
  saturation: PhaseResult;
  fixed: PhaseResult[];
  catchUp?: PhaseResult & { reconnect: CatchUpResult };
  correctness: CorrectnessResult & { storedRows?: number; expectedStoredRows?: number; storedMismatchChats?: number };
  /**
   * PostgreSQL transactions in the whole Parley run (connects, every phase, syncs, this process's
   * own stats queries) per acknowledged send; --db postgres only.
   */
  databaseTransactionsPerAck?: number;
  /** CPU seconds the server process(es) used from start to the end of the phases (compare with a profile's busy time). */
  serverCpuSeconds: number;
  otherFrames: Record<string, number>;
  errorSamples: string[];
  disorderSamples: string[];
}

export interface Target {
  name: string;
  target: string;
  value: number;
  /** Undefined when the run could not tell (e.g. --bare-only). */
  met: boolean | undefined;
  note?: string;
}

export interface BenchReport {
  startedAt: string;
  durationSeconds: number;
  options: Omit<BenchOptions, 'databaseUrl' | 'redisUrl'> & { database: string };
  environment: Record<string, unknown>;
  bare: { runs: SystemRun[]; summary: Record<string, Spread> };
  parley: { runs: SystemRun[]; summary: Record<string, Spread> };
  ratios: Record<string, Spread> & { throughput: Spread; p99: Spread; memoryPerConnection: Spread };
  targets: Target[];
  lost: number;
  duplicated: number;
  outOfOrder: number;
  correctness: {
    passed: boolean;
    /** What fails the run: storage disagreeing with acks, seq gaps, lost deliveries, disorder on connections that never dropped. */
    failures: string[];
    /** Reported, not failed: duplicates and disorder on connections re-synced after a drop. */
    notes: string[];
  };
  profiles?: ProfileSummary[];
}

/** The figures a run is judged by, per system and pair; ratios are taken pair by pair from these. */
export const FIGURES: Record<string, { label: string; get: (r: SystemRun) => number; unit: Unit }> = {
  sentPerSecond: { label: 'saturation: sent (acked) /s', get: (r) => r.saturation.sentPerSecond, unit: 'rate' },
  deliveredPerSecond: { label: 'saturation: delivered frames /s', get: (r) => r.saturation.deliveredPerSecond, unit: 'rate' },
  saturationAckP99: { label: 'saturation: send→ack p99', get: (r) => r.saturation.ack.p99, unit: 'ms' },
  serverCores: { label: 'saturation: server CPU (cores)', get: (r) => r.saturation.serverCores, unit: 'cores' },
  clientCores: { label: 'saturation: load client CPU (cores)', get: (r) => r.saturation.clientCores, unit: 'cores' },
  databaseCores: { label: 'saturation: PostgreSQL + Redis CPU (cores)', get: (r) => r.saturation.databaseCores, unit: 'cores' },
  otherCores: { label: 'saturation: other processes CPU (cores)', get: (r) => r.saturation.otherCores, unit: 'cores' },
  ...fixedFigures(0, '25%'),
  ...fixedFigures(1, '50%'),
  idleBytes: { label: 'server RSS, idle with U connections', get: (r) => r.memory.idleBytes, unit: 'bytes' },
  saturationBytes: { label: 'server RSS at saturation (max)', get: (r) => r.memory.saturationBytes, unit: 'bytes' },
  bytesPerConnection: {
    label: 'memory per connection (live heap + external / U)',
    get: (r) => r.memory.bytesPerConnection,
    unit: 'bytes',
  },
  databaseTransactionsPerAck: {
    label: 'PostgreSQL transactions per acked send (whole run)',
    get: (r) => r.databaseTransactionsPerAck ?? NaN,
    unit: 'cores',
  },
  rssBytesPerConnection: { label: 'RSS delta per connection (noisy)', get: (r) => r.memory.rssBytesPerConnection, unit: 'bytes' },
};

function fixedFigures(i: number, share: string): typeof FIGURES {
  const at = (r: SystemRun) => r.fixed[i];
  return {
    [`p${i}Rate`]: { label: `${share} of bare saturation: offered msg/s`, get: (r) => at(r)?.offeredRate ?? NaN, unit: 'rate' },
    [`p${i}AckP50`]: { label: `${share}: send→ack p50`, get: (r) => at(r)?.ack.p50 ?? NaN, unit: 'ms' },
    [`p${i}AckP99`]: { label: `${share}: send→ack p99`, get: (r) => at(r)?.ack.p99 ?? NaN, unit: 'ms' },
    [`p${i}DeliveryP50`]: { label: `${share}: send→delivery p50`, get: (r) => at(r)?.delivery.p50 ?? NaN, unit: 'ms' },
    [`p${i}DeliveryP95`]: { label: `${share}: send→delivery p95`, get: (r) => at(r)?.delivery.p95 ?? NaN, unit: 'ms' },
    [`p${i}DeliveryP99`]: { label: `${share}: send→delivery p99`, get: (r) => at(r)?.delivery.p99 ?? NaN, unit: 'ms' },
    [`p${i}DeliveryMax`]: { label: `${share}: send→delivery max`, get: (r) => at(r)?.delivery.max ?? NaN, unit: 'ms' },
    [`p${i}ScheduleP99`]: {
      label: `${share}: due→delivery p99 (coordinated omission)`,
      get: (r) => at(r)?.deliveryFromSchedule?.p99 ?? NaN,
      unit: 'ms',
    },
    [`p${i}ServerCores`]: { label: `${share}: server CPU (cores)`, get: (r) => at(r)?.serverCores ?? NaN, unit: 'cores' },
    [`p${i}GcMs`]: { label: `${share}: server GC, ms per second`, get: (r) => at(r)?.serverGc?.msPerSecond ?? NaN, unit: 'ms' },
    [`p${i}GcMajor`]: { label: `${share}: server full collections`, get: (r) => at(r)?.serverGc?.major ?? NaN, unit: 'number' },
    [`p${i}OldGrowth`]: {
      label: `${share}: server old-generation growth /s`,
      get: (r) => at(r)?.serverGc?.oldGrowthPerSecond ?? NaN,
      unit: 'bytes',
    },
    [`p${i}GcLongest`]: { label: `${share}: server longest GC pause`, get: (r) => at(r)?.serverGc?.longestMs ?? NaN, unit: 'ms' },
    [`p${i}ClientGcMs`]: { label: `${share}: load client GC, ms per second`, get: (r) => at(r)?.clientGc?.msPerSecond ?? NaN, unit: 'ms' },
    [`p${i}ClientGcLongest`]: {
      label: `${share}: load client longest GC pause`,
      get: (r) => at(r)?.clientGc?.longestMs ?? NaN,
      unit: 'ms',
    },
    [`p${i}DeliveredPerOffered`]: { label: `${share}: delivered/offered`, get: (r) => at(r)?.deliveredPerOffered ?? NaN, unit: 'share' },
  };
}

export function summarise(runs: SystemRun[]): Record<string, Spread> {
  return Object.fromEntries(Object.entries(FIGURES).map(([key, f]) => [key, spread(runs.map(f.get))]));
}

/** Per-pair Parley/bare ratios, each reported as the median of the pairs with min–max. */
export function pairRatios(bare: SystemRun[], parley: SystemRun[]): BenchReport['ratios'] {
  const ratio = (key: keyof typeof FIGURES) =>
    spread(parley.map((p) => FIGURES[key].get(p) / FIGURES[key].get(bare.find((b) => b.pair === p.pair)!)));
  return {
    throughput: ratio('deliveredPerSecond'),
    sentThroughput: ratio('sentPerSecond'),
    p99: ratio('p0DeliveryP99'),
    p99At50: ratio('p1DeliveryP99'),
    p99FromScheduleAt25: ratio('p0ScheduleP99'),
    memoryPerConnection: ratio('bytesPerConnection'),
    rssPerConnection: ratio('rssBytesPerConnection'),
  };
}

export function judgeTargets(report: Pick<BenchReport, 'ratios' | 'lost' | 'duplicated' | 'options'>, bareDelivered: number): Target[] {
  const { ratios, options } = report;
  const onPostgresSingle = options.db === 'postgres' && options.instances === 1;
  return [
    {
      name: 'saturation delivered/s, Parley/bare',
      target: '≥ 0.5',
      value: ratios.throughput.median,
      met: known(ratios.throughput.median, (v) => v >= 0.5),
      note: onPostgresSingle ? undefined : 'the target is set for PostgreSQL with one instance; shown for reference',
    },
    {
      name: 'p99 send→delivery at 25%, Parley/bare',
      target: '≤ 3',
      value: ratios.p99.median,
      met: known(ratios.p99.median, (v) => v <= 3),
    },
    {
      name: 'idle memory per connection, Parley/bare',
      target: '≤ 2.5',
      value: ratios.memoryPerConnection.median,
      met: known(ratios.memoryPerConnection.median, (v) => v <= 2.5),
    },
    {
      name: 'lost + duplicated messages (catch-up included)',
      target: '= 0',
      value: report.lost + report.duplicated,
      met: report.lost + report.duplicated === 0,
    },
    {
      name: 'bare relay delivered frames/s (machine reference)',
      target: '≈ 100–120k on the reference 2-core machine',
      value: bareDelivered,
      met: true,
      note: 'context, not a pass/fail',
    },
  ];
}

function known(value: number, test: (v: number) => boolean): boolean | undefined {
  return Number.isFinite(value) ? test(value) : undefined;
}

type Unit = 'rate' | 'ms' | 'bytes' | 'cores' | 'share' | 'number';

export function formatValue(n: number, unit: Unit | 'ratio'): string {
  if (!Number.isFinite(n)) return '–';
  switch (unit) {
    case 'rate':
      return Math.round(n).toLocaleString('en-US');
    case 'ms':
      return n < 10 ? `${n.toFixed(2)} ms` : n < 100 ? `${n.toFixed(1)} ms` : `${Math.round(n).toLocaleString('en-US')} ms`;
    case 'bytes':
      return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`;
    case 'cores':
    case 'number':
      return n.toFixed(2);
    case 'share':
      return `${(n * 100).toFixed(1)}%`;
    case 'ratio':
      return `${n.toFixed(2)}x`;
  }
}

function formatSpread(s: Spread, unit: Parameters<typeof formatValue>[1], pairs: number): string {
  if (pairs <= 1 || s.min === s.max || !Number.isFinite(s.median)) return formatValue(s.median, unit);
  return `${formatValue(s.median, unit)} (${formatValue(s.min, unit)}–${formatValue(s.max, unit)})`;
}

/** The end-of-run table: absolute figures per system, the per-pair ratios, targets, correctness. */
export function renderTable(report: BenchReport): string {
  const pairs = report.options.pairs;
  const rows: string[][] = [['', 'bare relay', 'Parley', 'Parley/bare']];
  const ratioFor: Record<string, string> = {
    deliveredPerSecond: 'throughput',
    sentPerSecond: 'sentThroughput',
    p0DeliveryP99: 'p99',
    p1DeliveryP99: 'p99At50',
    p0ScheduleP99: 'p99FromScheduleAt25',
    bytesPerConnection: 'memoryPerConnection',
    rssBytesPerConnection: 'rssPerConnection',
  };
  for (const [key, figure] of Object.entries(FIGURES)) {
    const ratioKey = ratioFor[key];
    rows.push([
      figure.label,
      formatSpread(report.bare.summary[key], figure.unit, pairs),
      formatSpread(report.parley.summary[key], figure.unit, pairs),
      ratioKey ? formatSpread(report.ratios[ratioKey], 'ratio', pairs) : '',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const out = [line(rows[0]), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)];

  const catchUps = report.parley.runs.map((r) => r.catchUp).filter((c) => c !== undefined);
  if (catchUps.length > 0) {
    const c = catchUps[catchUps.length - 1];
    out.push(
      '',
      `catch-up (Parley): ${c.reconnect.disconnected} connections dropped and re-synced while sending at ${formatValue(c.offeredRate ?? NaN, 'rate')} msg/s; ` +
        `reconnect p50 ${formatValue(c.reconnect.reconnectMs.p50, 'ms')}, sync p50 ${formatValue(c.reconnect.syncMs.p50, 'ms')} max ${formatValue(c.reconnect.syncMs.max, 'ms')}`,
    );
  }
  out.push(`lost ${report.lost}, duplicated ${report.duplicated}, out of order ${report.outOfOrder} (all runs, every connection)`);
  for (const note of report.correctness.notes) out.push(note);
  for (const system of ['bare', 'parley'] as const) {
    const runs = report[system].runs;
    const name = system === 'bare' ? 'bare relay' : 'Parley';
    const errors = runs.reduce(
      (n, r) => n + [r.saturation, ...r.fixed, ...(r.catchUp ? [r.catchUp] : [])].reduce((m, p) => m + p.errors, 0),
      0,
    );
    const samples = [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 3);
    if (errors > 0 || samples.length > 0)
      out.push(`${name}: ${errors} sends answered with an error frame${samples.length ? ` (${samples.join('; ')})` : ''}`);
    const other: Record<string, number> = {};
    for (const r of runs) for (const [type, n] of Object.entries(r.otherFrames)) other[type] = (other[type] ?? 0) + n;
    if (Object.keys(other).length > 0)
      out.push(
        `${name}: other frames received: ${Object.entries(other)
          .map(([type, n]) => `${type} ${n.toLocaleString('en-US')}`)
          .join(', ')}`,
      );
  }

  const parleySaturation = report.parley.summary.sentPerSecond.median;
  report.parley.runs[0]?.fixed.forEach((phase, i) => {
    const share = report.parley.summary[`p${i}DeliveredPerOffered`].median;
    const rate = report.parley.summary[`p${i}Rate`].median;
    if (share < 0.95)
      out.push(
        `Parley at ${phase.name} of the bare saturation (${formatValue(rate, 'rate')} msg/s) was past its own saturation (${formatValue(parleySaturation, 'rate')} msg/s): ` +
          `it delivered ${formatValue(share, 'share')} of the offered load in time, and its latency there is mostly queueing.`,
      );
  });

  out.push('', 'targets (reported, not enforced):');
  for (const t of report.targets) {
    const value =
      t.name.includes('/s') && !t.name.includes('Parley/bare')
        ? formatValue(t.value, 'rate')
        : t.name.includes('Parley/bare')
          ? formatValue(t.value, 'ratio')
          : String(t.value);
    out.push(
      `  ${t.met === undefined ? 'n/a ' : t.met ? 'met ' : 'MISS'}  ${t.name}: ${value} (target ${t.target})${t.note ? `  [${t.note}]` : ''}`,
    );
  }
  out.push(
    '',
    report.correctness.passed ? 'correctness gate: PASS' : `correctness gate: FAIL\n  ${report.correctness.failures.join('\n  ')}`,
  );
  return out.join('\n');
}

/** The report as JSON; histograms go in sparse form, so the chart can be drawn again from the file (chart.ts). */
export function toJson(report: BenchReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' ? round(value, 3) : value), 2);
}
