import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium package; playwright-core drives it as is (never `npx playwright install`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium, with everything that would reach the network on its own switched off. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install it with "apt-get install -y chromium" or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Collects what the page logs as errors and what it fails to load, so a test can show them
 * when it fails (a broken module only shows up in the console).
 */
export function watchPage(page: Page, label: string): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`${label} page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${label} console: ${message.text()}`);
  });
  page.on('requestfailed', (request) =>
    problems.push(`${label} request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`),
  );
  return problems;
}
