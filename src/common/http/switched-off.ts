import type { FeatureModuleName } from '../../config/modules.config.js';
import { NotFoundError } from '../errors/domain-error.js';
import { API_PREFIX } from './route-prefix.js';

const API = `/${API_PREFIX}`; // letters and slashes: nothing to escape in a pattern

/**
 * Which module serves a path of the contract (API.md's paths, fixed), most specific first
 * (messages live under /chats). Only for naming the module in a 404: a route that moved would
 * still answer, this only words the refusal of a path no route took.
 */
const MODULE_PATHS: readonly (readonly [RegExp, FeatureModuleName])[] = [
  [new RegExp(`^${API}/chats/[^/]+/(messages|read)(/|$)`), 'messages'],
  [new RegExp(`^${API}/chats(/|$)`), 'chats'],
  [new RegExp(`^${API}/users(/|$)`), 'users'],
  [new RegExp(`^${API}/auth(/|$)`), 'auth'],
  [/^\/health(\/ready)?\/?$/, 'health'],
  // The socket needs a signed-in user. (The page is always there, and says what it misses.)
  [/^\/ws\/?$/, 'auth'],
];

/**
 * A request no route took, on a path of a module this server runs without (MODULES): a 404 that
 * says so, rather than one that reads as a typo in the path. Undefined when the path is not a
 * switched-off module's (a plain 404 then).
 */
export function switchedOffModule(path: string, modules: ReadonlySet<FeatureModuleName>): NotFoundError | undefined {
  const found = MODULE_PATHS.find(([pattern]) => pattern.test(path));
  if (!found || modules.has(found[1])) return undefined;
  return new NotFoundError('NOT_FOUND', `${path} is served by the ${found[1]} module, which this server runs without (MODULES).`);
}
