import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { AppConfig } from '../config/app-config.js';
import { PROJECT_ROOT } from '../common/project-root.js';

/** The test chat page's files. */
export const PUBLIC_DIR = join(PROJECT_ROOT, 'public');

/** What the test chat page cannot work without (notify is optional: it says when mail is off). */
const PAGE_MODULES = ['auth', 'users', 'chats', 'messages'] as const;

/**
 * The page is plain same-origin files: nothing inline, nothing from elsewhere. connect-src lists
 * ws:/wss: because older browsers do not count a same-origin WebSocket as 'self'.
 */
const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * The test chat page at /ui (and / redirecting there): its files from PUBLIC_DIR under UI_CSP, and
 * /ui/config.json, what the page cannot know by itself: whether to offer the seeded LOCAL
 * accounts, and the modules it needs that this server runs without (MODULES), so it says so up front.
 */
export function serveChatPage(http: Express, config: AppConfig): void {
  http.use('/ui', (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', UI_CSP);
    next();
  });
  const missing = PAGE_MODULES.filter((m) => !config.isEnabled(m));
  http.get('/ui/config.json', (_req: Request, res: Response) => {
    res.json({ appEnv: config.appEnv, seedUsers: config.isLocal && config.isEnabled('seeding'), missingModules: missing });
  });
  if (existsSync(PUBLIC_DIR)) http.use('/ui', express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  http.get('/', (_req: Request, res: Response) => res.redirect(302, '/ui/'));
}
