import type { BenchReport, SystemRun } from './report.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { Histogram, type SerialisedHistogram } from './stats.js';

/**
 * A hand-made SVG (no chart library): latency percentile curves at the two fixed rates, the
 * saturation throughput of both systems with the spread over pairs, and delivered/s second by
 * second during every saturation window (where noise and stalls show).
 */

const COLORS = { bare: '#1f77b4', parley: '#e8590c' };
const PANEL_W = 420;
const PANEL_H = 280;
const MARGIN = { top: 34, right: 16, bottom: 46, left: 64 };
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

export function renderChart(report: BenchReport): string {
  const width = PANEL_W * 3 + 40;
  const height = PANEL_H + 96;
  const o = report.options;
  const env = report.environment as { cpuModel?: string; cores?: number; node?: string };
  const title = `Parley vs a bare ws relay: ${o.users.toLocaleString('en-US')} users, groups of ${o.group}, ${o.db}${o.instances === 2 ? ', 2 instances + Redis' : ''}, ${o.pairs} pair${o.pairs > 1 ? 's' : ''}`;
  const subtitle = `${env.cpuModel ?? ''} · ${env.cores ?? '?'} cores · Node ${env.node ?? ''} · client and server on the same machine · ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="20" y="24" font-size="16" font-weight="600">${esc(title)}</text>`,
    `<text x="20" y="44" fill="#555">${esc(subtitle)}</text>`,
    `<g transform="translate(10,56)">${latencyPanel(report)}</g>`,
    `<g transform="translate(${PANEL_W + 20},56)">${throughputPanel(report)}</g>`,
    `<g transform="translate(${PANEL_W * 2 + 30},56)">${timelinePanel(report)}</g>`,
    `</svg>`,
  ];
  return parts.join('\n') + '\n';
}

function latencyPanel(report: BenchReport): string {
  const curves: Array<{ label: string; color: string; dash: string; points: Array<[number, number]> }> = [];
  for (const system of ['bare', 'parley'] as const) {
    report[system].runs[0]?.fixed.forEach((phase, i) => {
      const merged = new Histogram();
      for (const run of report[system].runs) if (run.fixed[i]) merged.merge(asHistogram(run.fixed[i].histograms.delivery));
      curves.push({
        label: `${system === 'bare' ? 'bare' : 'Parley'} at ${phase.name}`,
        color: COLORS[system],
        dash: i === 0 ? '' : '6 4',
        points: merged.curve(),
      });
    });
  }
  const maxNines = 4; // up to p99.99
  const all = curves.flatMap((c) => c.points.map((p) => p[1])).filter((v) => v > 0);
  const yMin = Math.max(0.01, 10 ** Math.floor(Math.log10(Math.min(...all, 1))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...all, 1)));
  const plot = frame('send→delivery latency by percentile (fixed rates)');
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const x = (q: number) => MARGIN.left + (Math.min(maxNines, -Math.log10(Math.max(1 - q, 10 ** -maxNines))) / maxNines) * w;
  const y = (ms: number) =>
    MARGIN.top + h - ((Math.log10(Math.max(ms, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * h;
  for (let n = 0; n <= maxNines; n++) {
    const q = 1 - 10 ** -n;
    const px = x(q);
    plot.push(line(px, MARGIN.top, px, MARGIN.top + h, '#eee'));
    plot.push(text(px, MARGIN.top + h + 16, n === 0 ? 'p0' : `p${(q * 100).toFixed(Math.max(0, n - 2))}`, 'middle'));
  }
  for (let v = yMin; v <= yMax * 1.0001; v *= 10) {
    plot.push(line(MARGIN.left, y(v), MARGIN.left + w, y(v), '#eee'));
    plot.push(text(MARGIN.left - 6, y(v) + 4, v >= 1000 ? `${v / 1000} s` : `${+v.toPrecision(1)} ms`, 'end'));
  }
  plot.push(text(MARGIN.left + w / 2, PANEL_H - 8, 'percentile (log scale of nines)', 'middle'));
  const drawn = curves.filter((c) => c.points.length > 0);
  for (const c of drawn) {
    const d = c.points.map(([q, ms], j) => `${j === 0 ? 'M' : 'L'}${x(q).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    plot.push(`<path d="${d}" fill="none" stroke="${c.color}" stroke-width="2" ${c.dash ? `stroke-dasharray="${c.dash}"` : ''}/>`);
  }
  // Bottom right: the curves rise from the left, so that corner is the emptiest.
  const lx = MARGIN.left + w - 214;
  const top = MARGIN.top + h - 8 - drawn.length * 15;
  plot.push(`<rect x="${lx - 6}" y="${top - 4}" width="218" height="${drawn.length * 15 + 6}" fill="#fff" opacity="0.9"/>`);
  drawn.forEach((c, i) => {
    const ly = top + 6 + i * 15;
    plot.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${c.color}" stroke-width="2" ${c.dash ? `stroke-dasharray="${c.dash}"` : ''}/>`,
    );
    plot.push(text(lx + 26, ly + 4, `${c.label} of bare saturation`, 'start', 11));
  });
  return plot.join('\n');
}

function throughputPanel(report: BenchReport): string {
  const plot = frame('saturation throughput (median, bars = min–max over pairs)');
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const groups = [
    { key: 'deliveredPerSecond', label: 'delivered frames/s' },
    { key: 'sentPerSecond', label: 'sent (acked) msg/s' },
  ];
  const max = niceCeil(
    Math.max(1, ...(['bare', 'parley'] as const).flatMap((s) => groups.map((g) => report[s].summary[g.key].max)).filter(Number.isFinite)),
  );
  const y = (v: number) => MARGIN.top + h - (v / max) * h;
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    plot.push(line(MARGIN.left, y(v), MARGIN.left + w, y(v), '#eee'));
    plot.push(text(MARGIN.left - 6, y(v) + 4, v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : String(Math.round(v)), 'end'));
  }
  const groupW = w / groups.length;
  const barW = groupW / 3.2;
  groups.forEach((g, gi) => {
    (['bare', 'parley'] as const).forEach((system, si) => {
      const s = report[system].summary[g.key];
      if (!Number.isFinite(s.median)) return;
      const bx = MARGIN.left + gi * groupW + groupW * 0.18 + si * (barW + 6);
      plot.push(
        `<rect x="${bx.toFixed(1)}" y="${y(s.median).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(0) - y(s.median)).toFixed(1)}" fill="${COLORS[system]}" opacity="0.85"/>`,
      );
      const cx = bx + barW / 2;
      plot.push(line(cx, y(s.min), cx, y(s.max), '#222'));
      plot.push(line(cx - 5, y(s.min), cx + 5, y(s.min), '#222'));
      plot.push(line(cx - 5, y(s.max), cx + 5, y(s.max), '#222'));
      plot.push(text(cx, y(s.max) - 5, Math.round(s.median).toLocaleString('en-US'), 'middle', 10));
    });
    plot.push(text(MARGIN.left + gi * groupW + groupW / 2, MARGIN.top + h + 16, g.label, 'middle'));
  });
  const r = report.ratios.throughput;
  if (Number.isFinite(r.median)) {
    const range = r.min === r.max ? '' : ` (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
    plot.push(text(MARGIN.left + w / 2, PANEL_H - 8, `Parley/bare delivered: ${r.median.toFixed(2)}x${range}`, 'middle'));
  }
  plot.push(legend(MARGIN.left + w - 110, MARGIN.top + 6));
  return plot.join('\n');
}

function timelinePanel(report: BenchReport): string {
  const plot = frame('delivered frames/s, second by second, at saturation');
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const runs: SystemRun[] = [...report.bare.runs, ...report.parley.runs];
  const seconds = Math.max(1, ...runs.map((r) => r.saturation.timeline.length));
  const max = niceCeil(Math.max(1, ...runs.flatMap((r) => r.saturation.timeline)));
  const x = (s: number) => MARGIN.left + (seconds <= 1 ? 0.5 : s / (seconds - 1)) * w;
  const y = (v: number) => MARGIN.top + h - (v / max) * h;
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    plot.push(line(MARGIN.left, y(v), MARGIN.left + w, y(v), '#eee'));
    plot.push(text(MARGIN.left - 6, y(v) + 4, v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : String(Math.round(v)), 'end'));
  }
  for (const run of runs) {
    const d = run.saturation.timeline.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    plot.push(`<path d="${d}" fill="none" stroke="${COLORS[run.system]}" stroke-width="1.5" opacity="0.8"/>`);
  }
  plot.push(text(MARGIN.left + w / 2, MARGIN.top + h + 16, `second of the ${seconds} s window (one line per run)`, 'middle'));
  // Below the axis: inside the plot a legend would hide a line wherever it went.
  const ly = PANEL_H - 16;
  plot.push(`<rect x="${MARGIN.left + w / 2 - 90}" y="${ly}" width="12" height="12" fill="${COLORS.bare}"/>`);
  plot.push(text(MARGIN.left + w / 2 - 74, ly + 10, 'bare relay'));
  plot.push(`<rect x="${MARGIN.left + w / 2 + 20}" y="${ly}" width="12" height="12" fill="${COLORS.parley}"/>`);
  plot.push(text(MARGIN.left + w / 2 + 36, ly + 10, 'Parley'));
  return plot.join('\n');
}

/** A Histogram, or its JSON form when the report was read back from a file. */
function asHistogram(h: Histogram | SerialisedHistogram): Histogram {
  return h instanceof Histogram ? h : Histogram.fromJSON(h);
}

function frame(title: string): string[] {
  return [
    `<rect x="0" y="0" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#ddd"/>`,
    `<text x="${PANEL_W / 2}" y="20" text-anchor="middle" font-weight="600">${esc(title)}</text>`,
  ];
}

function legend(lx: number, ly: number): string {
  return [
    `<rect x="${lx - 4}" y="${ly - 4}" width="92" height="38" fill="#fff" opacity="0.9"/>`,
    `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS.bare}"/>`,
    text(lx + 16, ly + 10, 'bare relay'),
    `<rect x="${lx}" y="${ly + 16}" width="12" height="12" fill="${COLORS.parley}"/>`,
    text(lx + 16, ly + 26, 'Parley'),
  ].join('\n');
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): string {
  return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${stroke}"/>`;
}

function text(x: number, y: number, content: string, anchor: 'start' | 'middle' | 'end' = 'start', size?: number): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}"${size ? ` font-size="${size}"` : ''}>${esc(content)}</text>`;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// `node dist/bench/chart.js RESULTS.json OUT.svg` draws the chart again from a --json file.
if (process.argv[1]?.endsWith('/chart.js') && process.argv[2]) {
  const out = process.argv[3] ?? process.argv[2].replace(/\.json$/, '') + '.svg';
  writeFileSync(out, renderChart(JSON.parse(readFileSync(process.argv[2], 'utf8')) as BenchReport));
  console.log(out);
}
