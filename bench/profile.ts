import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Share {
  name: string;
  selfMs: number;
  /** Of the busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  busyMs: number;
  /** Functions by self time. */
  top: Array<Share & { url: string }>;
  /** Self time by where the running code lives: a package, Node's internals, the app, GC. */
  byPlace: Share[];
  /**
   * Self time charged to the nearest caller in a package or in the app, so that native work
   * (socket writes, JSON, crypto) counts for whoever asked for it: `ws`, `pg`, the app…
   */
  byOwner: Share[];
}

const IDLE = '(idle)';

/** Summarises a V8 .cpuprofile (what `node --cpu-prof` writes). */
export function summariseProfile(file: string, limit = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));

  const functions = new Map<string, { name: string; url: string; us: number }>();
  const places = new Map<string, number>();
  const owners = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let sampled = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    sampled += us;
    if (name === IDLE) {
      idle += us;
      continue;
    }
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const entry = functions.get(key) ?? { name, url: where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    add(places, placeOf(name, url), us);
    add(owners, ownerOf(node, byId, parent), us);
  }
  const busy = sampled - idle;
  const share = (name: string, us: number): Share => ({
    name,
    selfMs: Math.round(us / 1000),
    percent: Math.round((us / busy) * 1000) / 10,
  });
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => share(name, us));
  return {
    file,
    sampledMs: Math.round(sampled / 1000),
    busyMs: Math.round(busy / 1000),
    top: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, limit)
      .map((f) => ({ ...share(f.name, f.us), url: f.url })),
    byPlace: ranked(places),
    byOwner: ranked(owners),
  };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url;
}

/** A package name, `node:<module>`, `dist/src/<area>`, or a V8 pseudo-frame such as (garbage collector). */
function placeOf(name: string, url: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return url
      .slice(dist + 1)
      .split('/')
      .slice(0, 3)
      .join('/');
  return url;
}

function ownerOf(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const own = placeOf(node.callFrame.functionName, node.callFrame.url);
  if (own.startsWith('(') && own !== '(native)') return own; // GC, program
  for (let current: ProfileNode | undefined = node; current; current = byId.get(parent.get(current.id) ?? -1)) {
    const place = placeOf(current.callFrame.functionName, current.callFrame.url);
    if (!place.startsWith('(') && !place.startsWith('node:')) return place;
  }
  return own;
}

export function renderProfile(summary: ProfileSummary): string {
  const list = (shares: Share[], n: number) =>
    shares
      .slice(0, n)
      .map((s) => `${s.name} ${s.percent}%`)
      .join(', ');
  return [
    `${summary.file}: ${(summary.busyMs / 1000).toFixed(1)} s busy of ${(summary.sampledMs / 1000).toFixed(1)} s sampled; shares are of the busy time`,
    `  by caller (native work charged to the package or app code that asked for it): ${list(summary.byOwner, 10)}`,
    `  by running code: ${list(summary.byPlace, 8)}`,
    '  top functions by self time:',
    ...summary.top.map((t) => `    ${String(t.percent).padStart(5)}%  ${String(t.selfMs).padStart(6)} ms  ${t.name}  ${t.url}`),
  ].join('\n');
}

// `node dist/bench/profile.js FILE.cpuprofile…` prints the summary of profiles made earlier.
if (process.argv[1]?.endsWith('/profile.js') && process.argv[2]) {
  for (const file of process.argv.slice(2)) console.log(renderProfile(summariseProfile(file, 25)) + '\n');
}
