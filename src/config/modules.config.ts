import type { EnvReader } from './env-reader.js';

export const FEATURE_MODULES = ['auth', 'users', 'chats', 'messages', 'notify', 'health', 'seeding'] as const;
export type FeatureModuleName = (typeof FEATURE_MODULES)[number];

/**
 * What each feature cannot run without. `notify` is deliberately absent from auth's list: with
 * mail switched off, sign-up still works and accounts are marked confirmed.
 */
export const MODULE_REQUIREMENTS: Readonly<Record<FeatureModuleName, readonly FeatureModuleName[]>> = {
  auth: ['users'],
  users: ['auth'],
  chats: ['auth', 'users'],
  messages: ['chats'],
  notify: [],
  health: [],
  seeding: ['auth', 'users', 'chats', 'messages'],
};

export function readModules(env: EnvReader): ReadonlySet<FeatureModuleName> {
  const listed = env.list('MODULES');
  if (!listed || (listed.length === 1 && listed[0].toLowerCase() === 'all')) return new Set(FEATURE_MODULES);

  const names = listed.map((n) => n.toLowerCase());
  if (names.includes('all')) {
    // Every module, as meant: what the others would need is beside the point.
    env.problem(`MODULES lists "all" among other modules; write "all" alone for every module, or name only the modules you want.`);
    return new Set(FEATURE_MODULES);
  }
  const enabled = new Set<FeatureModuleName>();
  for (const name of names) {
    if ((FEATURE_MODULES as readonly string[]).includes(name)) enabled.add(name as FeatureModuleName);
    else env.problem(`MODULES names an unknown module ${JSON.stringify(name)}; the modules are ${FEATURE_MODULES.join(', ')} (or "all").`);
  }
  if (listed.length === 0)
    env.problem(`MODULES lists no module; name some of ${FEATURE_MODULES.join(', ')}, or unset it (or write "all") for every one.`);
  return enabled;
}

/**
 * One sentence per enabled module that needs a module switched off, naming everything it needs
 * at once (what it needs, and what those need in turn), so that one fix is enough; empty when
 * consistent.
 */
export function missingRequirements(enabled: ReadonlySet<FeatureModuleName>): string[] {
  const problems: string[] = [];
  for (const name of FEATURE_MODULES) {
    if (!enabled.has(name)) continue;
    const missing = FEATURE_MODULES.filter((other) => other !== name && !enabled.has(other) && needsOf(name).has(other));
    if (missing.length === 0) continue;
    const quoted = missing.map((m) => `"${m}"`);
    const list =
      quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)} modules, which are` : `${quoted[0]} module, which is`;
    problems.push(`MODULES: the "${name}" module needs the ${list} switched off; add ${missing.join(',')} to MODULES or remove ${name}.`);
  }
  return problems;
}

/** Everything a module needs, directly or through what it needs. */
function needsOf(name: FeatureModuleName): Set<FeatureModuleName> {
  const needs = new Set<FeatureModuleName>();
  const visit = (module: FeatureModuleName) => {
    for (const needed of MODULE_REQUIREMENTS[module]) {
      if (!needs.has(needed)) {
        needs.add(needed);
        visit(needed);
      }
    }
  };
  visit(name);
  return needs;
}
