import type { Request } from 'express';

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
  const path = (req.originalUrl ?? req.url).split('?')[0];
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route?.methods || !safeMatch(layer, path)) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/** `match` decodes the path's parameters and throws on a malformed escape (`%zz`): no route then. */
function safeMatch(layer: RouteLayer, path: string): boolean {
  try {
    return layer.match(path);
  } catch {
    return false;
  }
}
