import type { FeatureModuleName } from '../../config/modules.config.js';
import { NotFoundError } from '../errors/domain-error.js';

/** Which module serves a path of the contract, most specific first (messages live under /chats). */
const MODULE_PATHS: readonly (readonly [RegExp, FeatureModuleName])[] = [
  [/^\/api\/v1\/chats\/[^/]+\/(messages|read)(\/|$)/, 'messages'],
  [/^\/api\/v1\/chats(\/|$)/, 'chats'],
  [/^\/api\/v1\/users(\/|$)/, 'users'],
  [/^\/api\/v1\/auth(\/|$)/, 'auth'],
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
