import { METHODS } from 'node:http';
import type { Request } from 'express';
import { MethodNotAllowedError } from '../errors/domain-error.js';

/** The parts of a router layer (Express 5's `router` package) this file reads. */
interface RouteLayer {
  route?: { methods?: Record<string, boolean> };
  match(path: string): boolean;
}

/**
 * The methods the app's routes answer on the request's path, upper-case and sorted, or none when
 * no route has that path. For a request that no route took: a path that exists under other
 * methods is a 405 with `Allow`, not a 404. GET brings HEAD, as Express answers both.
 *
 * Reads the router's table as Nest registered it, so it cannot drift from the routes. The
 * router's own `match` is used, with the path as it would see it (no query string).
 */
export function allowedMethods(req: Request): string[] {
  const stack = (req.app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack;
  if (!stack) return [];
  const path = pathOf(req);
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route?.methods || isCatchAll(layer.route.methods) || !safeMatch(layer, path)) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/**
 * A request no route took, on a path that routes take under other methods: 405
 * METHOD_NOT_ALLOWED with the methods for `Allow`, as HTTP asks, rather than a 404 that says the
 * path does not exist. `Allow` lists OPTIONS too: the CORS middleware answers it (204) on every
 * path. Route paths are public (the OpenAPI document lists them), so this tells nothing about any
 * resource. Undefined when the path has no route or takes this method.
 */
export function methodNotAllowed(req: Request): MethodNotAllowedError | undefined {
  const allowed = allowedMethods(req);
  if (allowed.length === 0 || allowed.includes(req.method)) return undefined;
  return new MethodNotAllowedError(req.method, [...allowed, 'OPTIONS']);
}

/**
 * A route for every method: Nest's not-found handler. In the prefix router it is one `all` route
 * (`_all`); on each path excluded from the prefix (`/health`, `/health/ready`) Express's `app.all`
 * mounts it as a route with every method listed. It answers no method, so it allows none.
 */
export function isCatchAll(methods: Record<string, boolean>): boolean {
  return methods._all === true || METHODS.every((method) => methods[method.toLowerCase()] === true);
}

/** `match` decodes the path's parameters and throws on a malformed escape (`%zz`): no route then. */
function safeMatch(layer: RouteLayer, path: string): boolean {
  try {
    return layer.match(path);
  } catch {
    return false;
  }
}

/** The request's path as the client sent it, without the query (`req.path` is relative to the router that has it). */
export function pathOf(req: Request): string {
  return (req.originalUrl ?? req.url).split('?')[0];
}
