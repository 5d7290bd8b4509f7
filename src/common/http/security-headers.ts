import type { NextFunction, Request, Response } from 'express';

/** HSTS for half a year, for this host only: subdomains may be served by others. */
const HSTS = 'max-age=15552000';

/**
 * Headers every response carries: no MIME sniffing, no framing (Swagger UI keeps a pasted token
 * in localStorage; the chat page holds a session), no Referer leaving with a token in the URL, and
 * HSTS when the public origin is https. API and health answers are personal or live, so no cache
 * keeps them unless a route says otherwise (avatars set their own Cache-Control).
 */
export function securityHeaders(publicUrl: string) {
  const https = publicUrl.startsWith('https:');
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (https) res.setHeader('Strict-Transport-Security', HSTS);
    // Express routes paths in any case (/API/V1/auth/sign-in too).
    const path = req.path.toLowerCase();
    if (path.startsWith('/api/v1/') || path === '/health' || path.startsWith('/health/')) res.setHeader('Cache-Control', 'no-store');
    next();
  };
}
