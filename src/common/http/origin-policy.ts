import type { NextFunction, Request, Response } from 'express';
import type { AppConfig } from '../../config/app-config.js';
import { bearerToken } from '../auth/bearer.js';
import { ForbiddenError } from '../errors/domain-error.js';
import { resolveError } from '../errors/error-body.js';

/**
 * Which browser origins may act with a user's cookies: the server's own (PUBLIC_URL, or the host
 * the request came to, which a foreign page cannot fake) and those listed in CORS_ORIGINS. The
 * WebSocket's cookie authentication and cookie-carrying REST writes both ask it.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(config: AppConfig) {
    this.allowed = new Set([config.http.publicUrl, ...config.http.corsOrigins].map(normaliseOrigin));
  }

  allows(origin: string | undefined, host: string | undefined): boolean {
    if (!origin) return false;
    const normalised = normaliseOrigin(origin);
    if (this.allowed.has(normalised)) return true;
    // Behind a TLS-terminating proxy the request arrives as http while the page is https.
    return !!host && (normalised === normaliseOrigin(`http://${host}`) || normalised === normaliseOrigin(`https://${host}`));
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a REST write that would act with the user's cookies from a page of another origin
 * (403 ORIGIN_NOT_ALLOWED). The cookies are SameSite=Lax, which keeps other sites out, but not
 * other hosts of the same site (a sibling subdomain) nor browsers that ignore SameSite. Requests
 * without an Origin header (curl, server-to-server) and those authenticated by a bearer token
 * cannot be forged by a page, and pass.
 */
export function cookieWritesFromAllowedOrigins(policy: OriginPolicy, cookieNames: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // Another Authorization header (Basic, a bare Bearer) leaves the request to the cookie: checked.
    if (SAFE_METHODS.has(req.method) || bearerToken(req.headers.authorization) || req.headers.origin === undefined) return next();
    const cookies = (req as Request & { cookies?: Record<string, string> }).cookies ?? {};
    if (!cookieNames.some((name) => cookies[name])) return next();
    if (policy.allows(req.headers.origin, req.headers.host)) return next();
    const refused = new ForbiddenError(
      'ORIGIN_NOT_ALLOWED',
      `A page at ${req.headers.origin} may not act with this site's cookies; list it in CORS_ORIGINS, or send a bearer token.`,
    );
    res.status(403).json(resolveError(refused).body);
  };
}

/**
 * Goes right after the CORS middleware, which answers a preflight from an allowed origin itself
 * (204) and passes one from any other origin on, where it would end as a 404 for a route that
 * exists. Such a preflight gets 403 ORIGIN_NOT_ALLOWED, which names the fix, and no CORS headers,
 * so the browser still refuses the request.
 */
export function refusePreflightsFromOtherOrigins() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const { origin } = req.headers;
    if (req.method !== 'OPTIONS' || origin === undefined || req.headers['access-control-request-method'] === undefined) return next();
    const refused = new ForbiddenError('ORIGIN_NOT_ALLOWED', `Pages at ${origin} may not call this API; list the origin in CORS_ORIGINS.`);
    res.status(403).json(resolveError(refused).body);
  };
}

export function normaliseOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}
