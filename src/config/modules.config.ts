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

  const enabled = new Set<FeatureModuleName>();
  for (const name of listed.map((n) => n.toLowerCase())) {
    if ((FEATURE_MODULES as readonly string[]).includes(name)) enabled.add(name as FeatureModuleName);
    else if (name === 'all')
      env.problem(`MODULES lists "all" among other modules; write "all" alone for every module, or name only the modules you want.`);
    else env.problem(`MODULES names an unknown module ${JSON.stringify(name)}; the modules are ${FEATURE_MODULES.join(', ')} (or "all").`);
  }
  if (listed.length === 0)
    env.problem(`MODULES lists no module; name some of ${FEATURE_MODULES.join(', ')}, or unset it (or write "all") for every one.`);
  return enabled;
}

/** Sentences for every enabled module whose requirement is switched off; empty when consistent. */
export function missingRequirements(enabled: ReadonlySet<FeatureModuleName>): string[] {
  const problems: string[] = [];
  for (const name of FEATURE_MODULES) {
    if (!enabled.has(name)) continue;
    for (const needed of MODULE_REQUIREMENTS[name]) {
      if (!enabled.has(needed)) {
        problems.push(
          `MODULES: the "${name}" module needs the "${needed}" module, which is switched off; add ${needed} to MODULES or remove ${name}.`,
        );
      }
    }
  }
  return problems;
}
