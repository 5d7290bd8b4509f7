/** Where the REST API lives: every controller's routes are under it... */
export const API_PREFIX = 'api/v1';
/** ...but these, which probes and load balancers ask for at the root. */
export const UNPREFIXED_PATHS = ['health', 'health/ready'] as const;

const PREFIXED_UNPREFIXED = new RegExp(`/${API_PREFIX}(/(?:${UNPREFIXED_PATHS.map((p) => p.replace('/', '\\/')).join('|')}))(?=[,}])`, 'g');

/**
 * Nest's start-up lines about routes ("Mapped {/api/v1/health, GET} route") put the global prefix
 * before every route, excluded ones too: the line says where the route is served.
 */
export function asServed(line: string): string {
  return line.replace(PREFIXED_UNPREFIXED, '$1');
}
