import type { ParsedMail } from 'mailparser';
import { mkdirSync } from 'node:fs';
import { jest } from '@jest/globals';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page, Route } from 'playwright-core';
import { PUBLIC_DIR } from '../src/ui/chat-page.js';
import { type SignedIn, signUpAndIn, uniqueEmail } from './support/accounts.js';
import { launchBrowser, watchPage } from './support/browser.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { httpClient } from './support/http.js';
import { IMAGES } from './support/images.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { connectReady, eventually } from './support/ws.js';
import { type FrontDoor, frontDoor } from './support/proxy.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
/** One browser step (a click, a wait). Generous: the machine running the suite may be busy. */
const STEP_TIMEOUT_MS = 30_000;
/** A browser test runs many steps, and one restarts the server. */
const BROWSER_TEST_TIMEOUT_MS = 180_000;

/** A link from an email, moved onto the test app's origin (emails carry PUBLIC_URL). */
function linkIn(text: string, route: string, origin: string): string {
  const found = text.match(new RegExp(`/ui/#/${route}\\?token=[^\\s"'<>]+`));
  if (!found) throw new Error(`no /ui/#/${route} link in the email:\n${text}`);
  return origin + found[0];
}

describe('the built-in chat page, in a real browser', () => {
  jest.setTimeout(BROWSER_TEST_TIMEOUT_MS);
  let db: TestDatabase;
  let sink: SmtpSink;
  let app: TestApp;
  let env: Record<string, string>;
  let appDown = false;
  let browser: Browser;
  /** The pages a test opened, with what each logged as errors (a broken module only shows in the console). */
  const opened: Array<{ label: string; context: BrowserContext; page: Page; problems: string[] }> = [];
  /** Addresses a test put in front of the app, closed after it. */
  const fronts: FrontDoor[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    sink = await startSmtpSink();
    env = { ...db.env, SMTP_URL: sink.url };
    app = await startTestApp(env);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    if (app) await closeApp(app);
    await sink?.close();
    await db?.dispose();
  });

  /** Uncaught exceptions in the pages so far: a test ends by expecting none. */
  function pageErrors(): string[] {
    return opened.flatMap((o) => o.problems).filter((line) => line.includes(' page error: '));
  }

  // Each page's last state is kept (test-artifacts/ui-last-<who>.png) and its console shown: when a
  // step times out, they say why.
  afterEach(async () => {
    await Promise.all(fronts.splice(0).map((front) => front.close()));
    // A test that failed while the server was down must not take the next tests with it.
    if (appDown) {
      app = await startTestApp(env);
      appDown = false;
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const { label, context, page, problems } of opened.splice(0)) {
      await page.screenshot({ path: join(ARTIFACTS, `ui-last-${label}.png`) }).catch(() => undefined);
      if (problems.length) process.stderr.write(`${label}'s browser console:\n  ${problems.join('\n  ')}\n`);
      await context.close().catch(() => undefined);
    }
  });

  /**
   * app.close(), except that connections which never carried a request are dropped once the server
   * has stopped listening. Chromium opens such sockets ahead of need; Node's server.close() does not
   * count them as idle and would wait out headersTimeout (60 s and more) for them.
   */
  async function closeApp(closing: TestApp): Promise<void> {
    const server = closing.app.getHttpServer();
    const sweep = setInterval(() => {
      if (!server.listening) server.closeAllConnections();
    }, 100);
    try {
      await closing.close();
    } finally {
      clearInterval(sweep);
    }
  }

  async function openPage(label: string, viewport = { width: 1200, height: 760 }, options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme: 'light', ...options });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
    opened.push({ label, context, page, problems: watchPage(page, label) });
    return page;
  }

  /** What the page logged as errors so far (console errors, failed loads, uncaught exceptions). */
  function problemsOf(page: Page): string[] {
    return opened.find((o) => o.page === page)?.problems ?? [];
  }

  /** Another tab in the same browser as `beside`: it shares the cookies and localStorage, not sessionStorage. */
  async function openTab(label: string, beside: Page): Promise<Page> {
    const context = beside.context();
    const page = await context.newPage();
    opened.push({ label, context, page, problems: watchPage(page, label) });
    return page;
  }

  async function signInThroughForm(page: Page, who: { email: string; password: string; name: string }, origin = app.url): Promise<void> {
    await page.goto(`${origin}/ui/`);
    await page.getByTestId('sign-in-email').fill(who.email);
    await page.getByTestId('sign-in-password').fill(who.password);
    await page.getByTestId('sign-in-submit').click();
    await expectText(page.getByTestId('me-name'), who.name);
  }

  /** Waits until the locator's text contains `text` (playwright-core has no expect of its own). */
  async function expectText(locator: Locator, text: string): Promise<void> {
    await locator.filter({ hasText: text }).first().waitFor();
  }

  /** The statuses of the page's POST /auth/refresh answers, as they come. */
  function refreshesOf(page: Page): number[] {
    const statuses: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/api/v1/auth/refresh')) statuses.push(response.status());
    });
    return statuses;
  }

  function connection(page: Page, state: 'online' | 'reconnecting'): Locator {
    return page.locator(`[data-testid="connection-state"][data-state="${state}"]`);
  }

  function message(page: Page, text: string): Locator {
    return page.getByTestId('message').filter({ hasText: text });
  }

  it('serves the page as same-origin static files with a strict content security policy', async () => {
    const request = httpClient(app.url);
    const page = await request('GET', '/ui/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(String(page.body)).toContain('<script type="module" src="/ui/app.js">');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");

    const script = await request('GET', '/ui/app.js');
    expect({ status: script.status, type: script.headers.get('content-type') }).toEqual({
      status: 200,
      type: expect.stringContaining('javascript'),
    });
    // No CDN: every URL the page's own files name is on the page's origin.
    const stylesheet = await request('GET', '/ui/styles.css');
    for (const text of [String(page.body), String(script.body), String(stylesheet.body)]) {
      expect(text.match(/(?:src|href)="https?:\/\/[^"]+"|url\(\s*['"]?https?:/g)).toBeNull();
    }

    const config = await request('GET', '/ui/config.json');
    expect(config.body).toEqual({ appEnv: 'LOCAL', seedUsers: false, missingModules: [] });
    expect(PUBLIC_DIR.endsWith('public')).toBe(true);
  });

  it('serves Swagger UI under a content security policy of its own, and works under it', async () => {
    const page = await openPage('docs');
    const answer = await page.goto(`${app.url}/api/docs`);
    const policy = answer?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("frame-ancestors 'none'");
    // The operations render, and a call made from the page goes through.
    await page.locator('.opblock').first().waitFor();
    const health = page.locator('.opblock').filter({ hasText: '/health/ready' }).first();
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    await health.locator('.live-responses-table .response-col_status').filter({ hasText: '200' }).first().waitFor();
    const problems = opened.find((o) => o.page === page)?.problems ?? [];
    expect(problems.filter((line) => /Content Security Policy|Refused to/i.test(line))).toEqual([]);
  });

  it('lets two people chat live: delivery, typing, read ticks, and catch-up after a server restart', async () => {
    // The pages reach the server through an address that stays theirs while it restarts.
    const front = await frontDoor();
    fronts.push(front);
    const origin = `http://127.0.0.1:${front.port}`;
    front.to(Number(new URL(app.url).port));
    const request = httpClient(origin);
    const alice: SignedIn = await signUpAndIn(request, 'Alice Moreau');
    const bob: SignedIn = await signUpAndIn(request, 'Bob Tanaka');
    const pageA = await openPage('alice');
    const pageB = await openPage('bob');
    const framesFromB: string[] = [];
    pageB.on('websocket', (socket) => socket.on('framesent', (frame) => framesFromB.push(String(frame.payload))));

    await signInThroughForm(pageA, { ...alice.user, password: alice.password }, origin);
    await signInThroughForm(pageB, { ...bob.user, password: bob.password }, origin);
    await connection(pageA, 'online').waitFor();
    await connection(pageB, 'online').waitFor();

    // Alice finds Bob and starts a direct chat.
    await pageA.getByTestId('user-search').fill('Bob T');
    await pageA.getByTestId('user-result').filter({ hasText: 'Bob Tanaka' }).click();
    await expectText(pageA.getByTestId('chat-title'), 'Bob Tanaka');

    // Her message is acknowledged (sent, not yet read) and reaches Bob's chat list as unread.
    await pageA.getByTestId('composer-input').fill('Hi Bob, are you there?');
    await pageA.getByTestId('composer-input').press('Enter');
    await message(pageA, 'Hi Bob, are you there?').locator('[data-testid="tick"][data-status="sent"]').waitFor();
    const bobsChat = pageB.getByTestId('chat-item').filter({ hasText: 'Alice Moreau' });
    await expectText(bobsChat.getByTestId('chat-preview'), 'Hi Bob, are you there?');
    await expectText(bobsChat.getByTestId('unread-badge'), '1');
    expect(await message(pageA, 'Hi Bob, are you there?').getByTestId('tick').getAttribute('data-status')).toBe('sent');

    // Bob opens the chat: he reads the message and Alice's tick turns to seen.
    await bobsChat.click();
    await message(pageB, 'Hi Bob, are you there?').waitFor();
    await message(pageA, 'Hi Bob, are you there?').locator('[data-testid="tick"][data-status="seen"]').waitFor();
    await bobsChat.getByTestId('unread-badge').waitFor({ state: 'detached' });

    // Bob types: Alice sees him typing, then his message, then the indicator goes.
    await pageB.getByTestId('composer-input').pressSequentially('Yes! Just got here', { delay: 15 });
    await expectText(pageA.getByTestId('typing-indicator'), 'Bob Tanaka is typing');
    await pageB.getByTestId('composer-input').press('Enter');
    await message(pageA, 'Yes! Just got here').waitFor();
    await pageA.waitForFunction('document.querySelector(\'[data-testid="typing-indicator"]\').textContent === ""');
    await message(pageB, 'Yes! Just got here').locator('[data-testid="tick"][data-status="seen"]').waitFor();

    // The server goes away: both pages notice and say so.
    const seqBeforeRestart = Number(await message(pageB, 'Yes! Just got here').getAttribute('data-seq'));
    appDown = true;
    await closeApp(app);
    front.to(undefined); // nothing there now, as at a port nothing listens on
    await connection(pageA, 'reconnecting').waitFor();
    await connection(pageB, 'reconnecting').waitFor();
    const framesBeforeRestart = framesFromB.length;

    // Alice writes while offline: her message waits, marked pending.
    await pageA.getByTestId('composer-input').fill('Written while the server was down');
    await pageA.getByTestId('composer-input').press('Enter');
    await message(pageA, 'Written while the server was down').locator('[data-testid="tick"][data-status="pending"]').waitFor();

    // Back at the same address and on the same database; a message is sent before the pages are back.
    app = await startTestApp(env);
    appDown = false;
    front.to(Number(new URL(app.url).port));
    const chatId = await pageB.getByTestId('chat-item').first().getAttribute('data-chat-id');
    const meanwhile = await request('POST', `/api/v1/chats/${chatId}/messages`, {
      body: { text: 'Sent while you were reconnecting' },
      token: alice.accessToken,
    });
    expect(meanwhile.status).toBe(201);

    await connection(pageA, 'online').waitFor();
    await connection(pageB, 'online').waitFor();
    await message(pageB, 'Sent while you were reconnecting').waitFor();
    await message(pageB, 'Written while the server was down').waitFor();
    await message(pageA, 'Written while the server was down').locator('[data-testid="tick"]:not([data-status="pending"])').waitFor();
    await message(pageA, 'Sent while you were reconnecting').waitFor();

    // Bob's page caught up by asking for what came after the last seq it had.
    const syncs = framesFromB
      .slice(framesBeforeRestart)
      .map((f) => JSON.parse(f))
      .filter((f) => f.type === 'sync');
    expect(syncs[0]).toEqual({ type: 'sync', chats: { [chatId!]: seqBeforeRestart } });
    // And shows the chat in seq order, without duplicates.
    const seqs = (await pageB.getByTestId('message').evaluateAll((nodes: any[]) => nodes.map((n) => n.getAttribute('data-seq')))).map(
      Number,
    );
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.length).toBe(4);

    await pageA.getByTestId('composer-input').fill('Great, everything came through.');
    await pageA.getByTestId('composer-input').press('Enter');
    await message(pageB, 'Great, everything came through.').waitFor();
    await message(pageA, 'Great, everything came through.').locator('[data-testid="tick"][data-status="seen"]').waitFor();

    // Alice edits one message and deletes another: Bob sees both changes live.
    const typo = message(pageA, 'Great, everything came through.');
    await typo.hover();
    await typo.getByTestId('message-edit').click();
    await pageA.getByTestId('message-edit-input').fill('Great, everything came through!');
    await pageA.getByTestId('message-edit-input').press('Enter');
    await message(pageB, 'Great, everything came through!').filter({ hasText: 'edited' }).waitFor();
    await pageA.getByTestId('composer-input').fill('Oops, wrong chat');
    await pageA.getByTestId('composer-input').press('Enter');
    await message(pageB, 'Oops, wrong chat').waitFor();
    const oops = message(pageA, 'Oops, wrong chat');
    await oops.locator('[data-testid="tick"]:not([data-status="pending"])').waitFor();
    pageA.once('dialog', (dialog) => void dialog.accept());
    await oops.hover();
    await oops.getByTestId('message-delete').click();
    await message(pageB, 'This message was deleted').waitFor();
    expect(await message(pageB, 'Oops, wrong chat').count()).toBe(0);

    // Alice makes a group with Bob through the dialog; it reaches Bob's list live, unread.
    await pageA.getByTestId('new-group').click();
    await pageA.getByTestId('group-title').fill('Weekend hike');
    // Enter in the title goes on to the people to add, rather than making a group of one.
    await pageA.getByTestId('group-title').press('Enter');
    expect(await pageA.getByTestId('group-member-search').evaluate((input) => input.matches(':focus'))).toBe(true);
    await pageA.getByTestId('group-member-search').fill('Bob');
    await pageA.getByTestId('group-dialog').getByTestId('user-result').filter({ hasText: 'Bob Tanaka' }).click();
    await pageA.getByTestId('group-create').click();
    await expectText(pageA.getByTestId('chat-title'), 'Weekend hike');
    await pageA.getByTestId('composer-input').fill('Who is bringing the map?');
    await pageA.getByTestId('composer-input').press('Enter');
    const bobsGroup = pageB.getByTestId('chat-item').filter({ hasText: 'Weekend hike' });
    await expectText(bobsGroup.getByTestId('chat-preview'), 'Alice Moreau: Who is bringing the map?');
    await expectText(bobsGroup.getByTestId('unread-badge'), '1');

    // Back in the direct chat, Bob starts typing: the picture for the README.
    await pageA.getByTestId('chat-item').filter({ hasText: 'Bob Tanaka' }).click();
    await message(pageA, 'Great, everything came through!').waitFor();
    await pageB.getByTestId('composer-input').pressSequentially('Let me check', { delay: 15 });
    await expectText(pageA.getByTestId('typing-indicator'), 'Bob Tanaka is typing');
    mkdirSync(ARTIFACTS, { recursive: true });
    await pageA.screenshot({ path: join(ARTIFACTS, 'ui-chat.png') });
    expect(pageErrors()).toEqual([]);
  });

  it('opens a chat with unread messages at a "New messages" divider above the first, kept while the chat stays open', async () => {
    const request = httpClient(app.url);
    const [uli, vera, wim] = [
      await signUpAndIn(request, 'Uli Reader'),
      await signUpAndIn(request, 'Vera Writer'),
      await signUpAndIn(request, 'Wim Other'),
    ];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: uli.user.id }, token: vera.accessToken });
    const other = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: uli.user.id }, token: wim.accessToken });
    const send = async (text: string) =>
      (await request('POST', `/api/v1/chats/${direct.body.id}/messages`, { body: { text }, token: vera.accessToken })).body.seq as number;
    const unreadOnServer = async () =>
      (await request('GET', `/api/v1/chats/${direct.body.id}`, { token: uli.accessToken })).body.unreadCount as number;
    expect(await send('Read before')).toBe(1);
    expect((await request('POST', `/api/v1/chats/${direct.body.id}/read`, { body: { seq: 1 }, token: uli.accessToken })).status).toBe(204);
    // Longer than the view, and than the page of history a chat opens with.
    for (let n = 1; n <= 50; n++) await send(`Unread ${n}`);
    await request('POST', `/api/v1/chats/${other.body.id}/messages`, { body: { text: 'Elsewhere' }, token: wim.accessToken });

    const page = await openPage('uli');
    await signInThroughForm(page, { ...uli.user, password: uli.password });
    await connection(page, 'online').waitFor();
    const box = page.getByTestId('messages');
    const divider = page.getByTestId('unread-divider');
    /** The seq of the message right below the divider. */
    const below = () => divider.evaluate((node) => Number(node.nextElementSibling!.getAttribute('data-seq')));
    /** Whether the element lies wholly inside the scrolled view of the messages. */
    const inView = (locator: Locator) =>
      locator.evaluate((node) => {
        const view = node.closest('[data-testid="messages"]')!.getBoundingClientRect();
        const rect = node.getBoundingClientRect();
        return rect.top >= view.top && rect.bottom <= view.bottom;
      });
    const atBottom = () => box.evaluate((node) => node.scrollHeight - node.scrollTop - node.clientHeight < 60);
    const veraItem = page.getByTestId('chat-item').filter({ hasText: 'Vera Writer' });

    // Opened: the divider is above Unread 1 (seq 2) and in view; the newest is below, out of view, so nothing is read yet.
    await veraItem.click();
    await expectText(divider, 'New messages');
    expect(await below()).toBe(2);
    expect(await inView(divider)).toBe(true);
    expect(await atBottom()).toBe(false);
    expect(await inView(page.locator('[data-testid="message"][data-seq="51"]'))).toBe(false);
    await delay(300);
    expect(await unreadOnServer()).toBe(50);
    await expectText(veraItem.getByTestId('unread-badge'), '50');

    // Scrolled down, it is read; the divider stays where it was, and so it does as more arrives.
    await box.evaluate((node) => (node.scrollTop = node.scrollHeight));
    await veraItem.getByTestId('unread-badge').waitFor({ state: 'detached' });
    await eventually(async () => (await unreadOnServer()) === 0);
    await send('While open');
    await message(page, 'While open').waitFor();
    expect(await divider.count()).toBe(1);
    expect(await below()).toBe(2);

    // Opened again with everything read: no divider.
    await page.getByTestId('chat-item').filter({ hasText: 'Wim Other' }).click();
    await message(page, 'Elsewhere').waitFor();
    await veraItem.click();
    await message(page, 'While open').waitFor();
    expect(await divider.count()).toBe(0);
    expect(await atBottom()).toBe(true);

    // Two more while another chat is open: opened at the newest (they fit), the divider above them in view, and read.
    await page.getByTestId('chat-item').filter({ hasText: 'Wim Other' }).click();
    await message(page, 'Elsewhere').waitFor();
    const first = await send('Short 1');
    await send('Short 2');
    await expectText(veraItem.getByTestId('unread-badge'), '2');
    await veraItem.click();
    await message(page, 'Short 2').waitFor();
    await expectText(divider, 'New messages');
    expect(await below()).toBe(first);
    expect(await inView(divider)).toBe(true);
    expect(await atBottom()).toBe(true);
    await veraItem.getByTestId('unread-badge').waitFor({ state: 'detached' });
    await eventually(async () => (await unreadOnServer()) === 0);
    expect(pageErrors()).toEqual([]);
  });

  it('fetches over REST a message whose live frame never arrived, once a later one shows the hole', async () => {
    const request = httpClient(app.url);
    const dave = await signUpAndIn(request, 'Dave Okafor');
    const erin = await signUpAndIn(request, 'Erin Walsh');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: erin.user.id }, token: dave.accessToken });
    await request('POST', `/api/v1/chats/${chat.body.id}/messages`, {
      body: { text: 'Before anything goes wrong' },
      token: dave.accessToken,
    });

    // Erin's page talks to the real server through a relay that loses one frame.
    const page = await openPage('erin');
    let dropped = 0;
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (String(frame).includes('Lost on the way')) dropped++;
        else ws.send(frame);
      });
    });
    await signInThroughForm(page, { ...erin.user, password: erin.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Dave Okafor' }).click();
    await message(page, 'Before anything goes wrong').waitFor();

    await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text: 'Lost on the way' }, token: dave.accessToken });
    await request('POST', `/api/v1/chats/${chat.body.id}/messages`, {
      body: { text: 'Arrives after the hole' },
      token: dave.accessToken,
    });

    await message(page, 'Arrives after the hole').waitFor();
    await message(page, 'Lost on the way').waitFor();
    expect(dropped).toBe(1);
    const texts = await page.getByTestId('message-text').allTextContents();
    expect(texts).toEqual(['Before anything goes wrong', 'Lost on the way', 'Arrives after the hole']);
    expect(pageErrors()).toEqual([]);
  });

  it('manages a profile (name, photo, devices) and a group (rename, add, promote, remove, leave) from its dialogs', async () => {
    const request = httpClient(app.url);
    const [hana, ivo, jun] = [
      await signUpAndIn(request, 'Hana Berg'),
      await signUpAndIn(request, 'Ivo Klein'),
      await signUpAndIn(request, 'Jun Sato'),
    ];
    const elsewhere = await request('POST', '/api/v1/auth/sign-in', { body: { email: hana.user.email, password: hana.password } });
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Book club', memberIds: [ivo.user.id] },
      token: hana.accessToken,
    });
    await request('POST', `/api/v1/chats/${group.body.id}/messages`, {
      body: { text: 'First meeting on Friday' },
      token: hana.accessToken,
    });

    const page = await openPage('hana');
    page.on('dialog', (dialog) => void dialog.accept());
    await signInThroughForm(page, { ...hana.user, password: hana.password });
    await connection(page, 'online').waitFor();

    // Profile: a new name, a photo, and the other device signed out.
    await page.getByTestId('open-profile').click();
    const profile = page.getByTestId('profile-dialog');
    await profile.getByTestId('profile-name').fill('Hana B. Berg');
    await profile.getByTestId('profile-save').click();
    await expectText(page.getByTestId('me-name'), 'Hana B. Berg');
    await profile.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: IMAGES.png });
    await page.locator('[data-slot="me-avatar"] img').waitFor();
    expect((await request('GET', '/api/v1/users/me', { token: hana.accessToken })).body.avatarUrl).toEqual(expect.any(String));
    await expect(profile.getByTestId('session').count()).resolves.toBe(3); // the API's sign-up, the second sign-in, this tab
    await profile.getByTestId('session-revoke').first().click();
    await profile.getByTestId('session').nth(2).waitFor({ state: 'detached' });
    await profile.getByRole('button', { name: 'Close' }).click();
    const sessions = await request('GET', '/api/v1/auth/sessions', { token: elsewhere.body.accessToken });
    const mine = await request('GET', '/api/v1/auth/sessions', { token: hana.accessToken });
    expect([sessions.status, mine.status].filter((s) => s === 401)).toHaveLength(1);

    // The group: renamed, Jun added and made admin, Ivo removed; then Hana leaves.
    await page.getByTestId('chat-item').filter({ hasText: 'Book club' }).click();
    await message(page, 'First meeting on Friday').waitFor();
    await page.getByTestId('open-chat-info').click();
    const info = page.getByTestId('chat-info-dialog');
    await info.getByTestId('info-title-input').fill('Book club 2027');
    await info.getByTestId('info-rename').click();
    await expectText(page.getByTestId('chat-title'), 'Book club 2027');
    await info.getByTestId('info-add-search').fill('Jun Sa');
    await info.getByTestId('user-result').filter({ hasText: 'Jun Sato' }).click();
    const junRow = info.getByTestId('info-member').filter({ hasText: 'Jun Sato' });
    await junRow.waitFor();
    await junRow.getByTestId('info-role').click();
    await expectText(junRow, 'admin');
    // Jun came after the message: its tick does not count him as a reader (Ivo has not read it).
    // A message of his on the page says the thread has been drawn again since he was a member there
    // (his row above is drawn from the same detail).
    await request('POST', `/api/v1/chats/${group.body.id}/messages`, { body: { text: 'Jun here, hello' }, token: jun.accessToken });
    await message(page, 'Jun here, hello').waitFor();
    const firstTick = message(page, 'First meeting on Friday').getByTestId('tick');
    expect(await firstTick.getAttribute('data-status')).toBe('sent');
    await info.getByTestId('info-member').filter({ hasText: 'Ivo Klein' }).getByTestId('info-remove').click();
    await info.getByTestId('info-member').filter({ hasText: 'Ivo Klein' }).waitFor({ state: 'detached' });
    const detail = await request('GET', `/api/v1/chats/${group.body.id}`, { token: jun.accessToken });
    expect(detail.body.title).toBe('Book club 2027');
    expect(detail.body.members.map((m: { name: string; role: string }) => `${m.name}:${m.role}`).sort()).toEqual([
      'Hana B. Berg:owner',
      'Jun Sato:admin',
    ]);

    await info.getByTestId('info-leave').click();
    await page.getByTestId('chat-item').filter({ hasText: 'Book club 2027' }).waitFor({ state: 'detached' });
    const after = await request('GET', `/api/v1/chats/${group.body.id}`, { token: jun.accessToken });
    expect(after.body.members).toEqual([expect.objectContaining({ name: 'Jun Sato', role: 'owner' })]);
    expect(pageErrors()).toEqual([]);
  });

  it('tells the signed-in devices apart (system, sign-in time, this tab first), so the right one can be signed out', async () => {
    const request = httpClient(app.url);
    const yan = await signUpAndIn(request, 'Yan Devices');
    // A second sign-in from the same client, then two browsers: pairs that look alike by browser and address.
    expect((await request('POST', '/api/v1/auth/sign-in', { body: { email: yan.user.email, password: yan.password } })).status).toBe(200);
    const laptop = await openPage('yan-laptop');
    await signInThroughForm(laptop, { ...yan.user, password: yan.password });
    await connection(laptop, 'online').waitFor();
    const desktop = await openPage('yan-desktop');
    await signInThroughForm(desktop, { ...yan.user, password: yan.password });

    await desktop.getByTestId('open-profile').click();
    const rows = desktop.getByTestId('profile-dialog').getByTestId('session');
    await rows.nth(3).waitFor();
    const texts = await rows.allTextContents();
    expect(texts).toHaveLength(4);
    expect(new Set(texts).size).toBe(4);
    // This tab's session first, marked, with no button to sign it out from here.
    expect(await rows.evaluateAll((nodes: any[]) => nodes.map((n) => n.dataset.current))).toEqual(['true', 'false', 'false', 'false']);
    expect(texts[0]).toContain('This tab');
    expect(await rows.first().getByTestId('session-revoke').count()).toBe(0);
    expect(texts.filter((t) => t.includes('Chrome on Linux'))).toHaveLength(2);
    expect(texts.every((t) => t.includes(' · signed in '))).toBe(true);

    // The other browser's row, by what it says: signing it out ends the laptop's session, and no other.
    await rows.filter({ hasText: 'Chrome on Linux' }).getByTestId('session-revoke').click();
    await rows.nth(2).waitFor();
    await rows.nth(3).waitFor({ state: 'detached' });
    await laptop.getByTestId('sign-in-form').waitFor();
    await expectText(desktop.getByTestId('me-name'), 'Yan Devices');
    const left = await request('GET', '/api/v1/auth/sessions', { token: yan.accessToken });
    expect(left.body.map((s: any) => s.userAgent.includes('Chrome')).sort()).toEqual([false, false, true]);
    expect(pageErrors()).toEqual([]);
  });

  it('asks before removing a member from a group, and Cancel leaves the group as it was', async () => {
    const request = httpClient(app.url);
    const [tom, uma] = [await signUpAndIn(request, 'Tom Owner'), await signUpAndIn(request, 'Uma Member')];
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Careful club', memberIds: [uma.user.id] },
      token: tom.accessToken,
    });
    const page = await openPage('tom');
    const removals: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'DELETE' && r.url().includes('/members/')) removals.push(r.url());
    });
    const asked: string[] = [];
    let answer: 'dismiss' | 'accept' = 'dismiss';
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog[answer]();
    });
    await signInThroughForm(page, { ...tom.user, password: tom.password });
    await page.getByTestId('chat-item').filter({ hasText: 'Careful club' }).click();
    await page.getByTestId('open-chat-info').click();
    const umaRow = page.getByTestId('chat-info-dialog').getByTestId('info-member').filter({ hasText: 'Uma Member' });

    await umaRow.getByTestId('info-remove').click();
    await eventually(() => asked.length === 1, STEP_TIMEOUT_MS);
    expect(asked[0]).toBe('Remove Uma Member from this group? They will no longer see its messages.');
    await delay(300); // time for a request, had Cancel let one go
    expect(removals).toEqual([]);
    expect(await umaRow.count()).toBe(1);
    const members = async () =>
      (await request('GET', `/api/v1/chats/${group.body.id}`, { token: tom.accessToken })).body.members.map((m: any) => m.name).sort();
    expect(await members()).toEqual(['Tom Owner', 'Uma Member']);

    answer = 'accept';
    await umaRow.getByTestId('info-remove').click();
    await umaRow.waitFor({ state: 'detached' });
    // The focused button went with the row: the focus stays in the dialog, for the keyboard.
    expect(await page.getByTestId('info-add-search').evaluate((input) => input.matches(':focus'))).toBe(true);
    expect(asked).toHaveLength(2);
    expect(await members()).toEqual(['Tom Owner']);
    expect(pageErrors()).toEqual([]);
  });

  it('shows long, emoji and right-to-left text as written, and sends as many emoji as the server takes', async () => {
    const request = httpClient(app.url);
    const kim = await signUpAndIn(request, 'Kim Long');
    const create = (title: string) => request('POST', '/api/v1/chats', { body: { type: 'group', title }, token: kim.accessToken });
    const long = await create('W'.repeat(255));
    const party = await create('🎉 Party');
    await request('POST', `/api/v1/chats/${party.body.id}/messages`, { body: { text: 'مرحبا! hello 123?' }, token: kim.accessToken });

    const page = await openPage('kim');
    await signInThroughForm(page, { ...kim.user, password: kim.password });
    await connection(page, 'online').waitFor();

    // Initials take whole characters: the emoji, not half of its surrogate pair.
    const partyItem = page.getByTestId('chat-item').filter({ hasText: 'Party' });
    expect(await partyItem.locator('.avatar').first().textContent()).toBe('🎉P');
    await partyItem.click();
    const arabic = message(page, 'hello 123').getByTestId('message-text');
    expect(await arabic.getAttribute('dir')).toBe('auto');

    // 3,000 emoji are 3,000 characters to the server (6,000 UTF-16 units): all of them go.
    const emoji = '😀'.repeat(3000);
    await page.getByTestId('composer-input').fill(emoji);
    await page.getByTestId('composer-input').press('Enter');
    await page.locator('[data-testid="message"][data-seq="2"]').waitFor(); // acknowledged: it has its seq
    const history = await request('GET', `/api/v1/chats/${party.body.id}/messages?limit=1`, { token: kim.accessToken });
    expect(Array.from(history.body.items[0].text as string)).toHaveLength(3000);

    // A title of 255 characters without a space wraps inside the info dialog, which keeps its buttons in view.
    await page.getByTestId('chat-item').filter({ hasText: 'WWWW' }).click();
    await page.getByTestId('open-chat-info').click();
    const info = page.getByTestId('chat-info-dialog');
    await info.getByTestId('info-leave').waitFor();
    const fits = await info.evaluate((dialog) => dialog.scrollWidth <= dialog.clientWidth + 1);
    expect(fits).toBe(true);
    const leave = await info.getByTestId('info-leave').boundingBox();
    const box = await info.boundingBox();
    expect(leave!.x + leave!.width).toBeLessThanOrEqual(box!.x + box!.width);
    expect(long.status).toBe(201);
    expect(pageErrors()).toEqual([]);
  });

  it('takes a message as its sender having read the chat up to it: no unread badge for my own, a read tick for theirs', async () => {
    const request = httpClient(app.url);
    const [ida, jon] = [await signUpAndIn(request, 'Ida Moss'), await signUpAndIn(request, 'Jon Reyes')];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: jon.user.id }, token: ida.accessToken });
    const send = (who: SignedIn, text: string) =>
      request('POST', `/api/v1/chats/${direct.body.id}/messages`, { body: { text }, token: who.accessToken });
    const page = await openPage('ida');
    await signInThroughForm(page, { ...ida.user, password: ida.password });
    await connection(page, 'online').waitFor();
    const item = page.getByTestId('chat-item').filter({ hasText: 'Jon Reyes' });
    expect((await send(jon, 'Are you coming?')).status).toBe(201);
    await expectText(item.getByTestId('unread-badge'), '1');
    // Ida answers from her phone, without opening the chat there: she has read it.
    expect((await send(ida, 'Yes, on my way')).status).toBe(201);
    await expectText(item.getByTestId('chat-preview'), 'You: Yes, on my way');
    await item.getByTestId('unread-badge').waitFor({ state: 'detached' });

    await item.click();
    await page.getByTestId('composer-input').fill('Bring the map');
    await page.getByTestId('composer-input').press('Enter');
    await message(page, 'Bring the map').locator('[data-testid="tick"][data-status="sent"]').waitFor();
    // Jon replies without marking anything read: his reply says he read up to it.
    expect((await send(jon, 'Will do')).status).toBe(201);
    await message(page, 'Bring the map').locator('[data-testid="tick"][data-status="seen"]').waitFor();

    // In a group, a reply from one member turns the tick to read (by some), not seen (by all).
    const kim = await signUpAndIn(request, 'Kim Lau');
    const trip = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Trip planning', memberIds: [jon.user.id, kim.user.id] },
      token: ida.accessToken,
    });
    await page.getByTestId('chat-item').filter({ hasText: 'Trip planning' }).click();
    await page.getByTestId('composer-input').fill('Who is in?');
    await page.getByTestId('composer-input').press('Enter');
    await message(page, 'Who is in?').locator('[data-testid="tick"][data-status="sent"]').waitFor();
    const reply = await request('POST', `/api/v1/chats/${trip.body.id}/messages`, { body: { text: 'Me!' }, token: jon.accessToken });
    expect(reply.status).toBe(201);
    await message(page, 'Me!').waitFor();
    await message(page, 'Who is in?').locator('[data-testid="tick"][data-status="read"]').waitFor();
    expect(pageErrors()).toEqual([]);
  });

  it('takes a deleted unread message off the unread badge at once, as the server counts it', async () => {
    const request = httpClient(app.url);
    const [uma, vic] = [await signUpAndIn(request, 'Uma Count'), await signUpAndIn(request, 'Vic Count')];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: vic.user.id }, token: uma.accessToken });
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Counting group', memberIds: [uma.user.id] },
      token: vic.accessToken,
    });
    const send = async (chatId: string, text: string) =>
      (await request('POST', `/api/v1/chats/${chatId}/messages`, { body: { text }, token: vic.accessToken })).body as {
        id: string;
        chatId: string;
      };
    const remove = async (m: { id: string; chatId: string }) =>
      expect((await request('DELETE', `/api/v1/chats/${m.chatId}/messages/${m.id}`, { token: vic.accessToken })).status).toBe(204);
    const page = await openPage('uma');
    /** Waits for the chat's badge to say `count`, and checks that the server counts as many. */
    const unread = async (chatId: string, count: number) => {
      await page.locator(`[data-testid="chat-item"][data-chat-id="${chatId}"] [aria-label="${count} unread"]`).waitFor();
      expect((await request('GET', `/api/v1/chats/${chatId}`, { token: uma.accessToken })).body.unreadCount).toBe(count);
    };

    const read = await send(direct.body.id, 'Read already');
    await signInThroughForm(page, { ...uma.user, password: uma.password });
    await connection(page, 'online').waitFor();
    // The direct chat is opened and left: the page holds its messages, and those that come later.
    await page.getByTestId('chat-item').filter({ hasText: 'Vic Count' }).click();
    await message(page, 'Read already').waitFor();
    await page.evaluate("location.hash = '#/'");
    const [one, two] = [await send(direct.body.id, 'One'), await send(direct.body.id, 'Two'), await send(direct.body.id, 'Three')];
    await unread(direct.body.id, 3);
    await remove(one);
    await unread(direct.body.id, 2);
    // One read before does not count (the next delete's badge shows that its frame was handled).
    await remove(read);
    await remove(two);
    await unread(direct.body.id, 1);

    // A chat never opened: the page holds its newest message only.
    const [, middle, last] = [await send(group.body.id, 'G1'), await send(group.body.id, 'G2'), await send(group.body.id, 'G3')];
    await unread(group.body.id, 3);
    await remove(middle);
    await unread(group.body.id, 2);
    await remove(last);
    await unread(group.body.id, 1);
    expect(pageErrors()).toEqual([]);
  });

  it('fits a phone: one pane at a time, Back returns to the chat left, a wide message keeps its actions on screen', async () => {
    const request = httpClient(app.url);
    const [nell, otto] = [await signUpAndIn(request, 'Nell Park'), await signUpAndIn(request, 'Otto Berg')];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: otto.user.id }, token: nell.accessToken });
    const fromOtto = await request('POST', `/api/v1/chats/${direct.body.id}/messages`, { body: { text: 'Hi' }, token: otto.accessToken });
    expect(fromOtto.status).toBe(201);
    const page = await openPage('nell', { width: 390, height: 844 });
    await signInThroughForm(page, { ...nell.user, password: nell.password });
    const item = page.getByTestId('chat-item').filter({ hasText: 'Otto Berg' });
    // The badge says what its number is.
    expect(await item.getByTestId('unread-badge').getAttribute('aria-label')).toBe('1 unread');

    await item.getByRole('button').focus();
    await page.keyboard.press('Enter');
    await message(page, 'Hi').waitFor();
    expect(await page.getByTestId('chat-list').isVisible()).toBe(false);
    const composer = page.getByTestId('composer-input');
    // Text that draws as nothing stays in the box, with the reason, and says nobody is typing.
    await composer.fill('\u2800\u3164');
    await composer.press('Enter');
    await expectText(page.getByTestId('toast'), 'something visible');
    expect(await composer.inputValue()).toBe('\u2800\u3164');

    const wide = 'A message long enough to fill the bubble from one side of a phone screen to the other, twice over.';
    await composer.fill(wide);
    await composer.press('Enter');
    await message(page, wide).locator('[data-testid="tick"][data-status="sent"]').waitFor();
    await message(page, wide).click();
    const edit = message(page, wide).getByTestId('message-edit');
    await edit.waitFor();
    const box = await edit.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 390).toBe(true);

    await page.locator('[data-action="back"]').click();
    await item.waitFor();
    expect(await item.getByRole('button').evaluate((button) => button.matches(':focus'))).toBe(true);

    // A name of 64 letters with no space, over a message and in the header, does not widen the page.
    const long = 'W'.repeat(64);
    const wes = await signUpAndIn(request, long);
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Wide names', memberIds: [nell.user.id] },
      token: wes.accessToken,
    });
    await request('POST', `/api/v1/chats/${group.body.id}/messages`, { body: { text: 'Wide hello' }, token: wes.accessToken });
    await page.getByTestId('chat-item').filter({ hasText: 'Wide names' }).click();
    await message(page, 'Wide hello').waitFor();
    const widths = {
      page: await page.locator('html').evaluate((html) => html.scrollWidth),
      messages: await page.getByTestId('messages').evaluate((box) => box.scrollWidth),
    };
    expect(widths).toEqual({ page: 390, messages: expect.any(Number) });
    expect(widths.messages).toBeLessThanOrEqual(390);
    expect(pageErrors()).toEqual([]);
  });

  it('on a touch screen, makes Enter a new line and leaves sending to the Send button; on a desktop Enter sends', async () => {
    const request = httpClient(app.url);
    const [pam, rui] = [await signUpAndIn(request, 'Pam Touch'), await signUpAndIn(request, 'Rui Desk')];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: rui.user.id }, token: pam.accessToken });
    const stored = async () =>
      (await request('GET', `/api/v1/chats/${direct.body.id}/messages`, { token: pam.accessToken })).body.items.map((m: any) => m.text);

    // A phone: (pointer: coarse), as a touch screen reports it.
    const phone = await openPage('pam', { width: 390, height: 844 }, { hasTouch: true, isMobile: true });
    expect(await phone.evaluate("matchMedia('(pointer: coarse)').matches")).toBe(true);
    await signInThroughForm(phone, { ...pam.user, password: pam.password });
    await connection(phone, 'online').waitFor();
    await phone.getByTestId('chat-item').filter({ hasText: 'Rui Desk' }).tap();
    const composer = phone.getByTestId('composer-input');
    // The on-screen keyboard's key reads as a new line, not as Send.
    expect(await composer.getAttribute('enterkeyhint')).toBe('enter');
    await composer.fill('First line');
    await composer.press('Enter');
    await composer.pressSequentially('second line');
    expect(await composer.inputValue()).toBe('First line\nsecond line');
    expect(await phone.getByTestId('message').count()).toBe(0);
    await phone.getByTestId('composer-send').tap();
    await message(phone, 'second line').locator('[data-testid="tick"][data-status="sent"]').waitFor();
    expect(await stored()).toEqual(['First line\nsecond line']);
    expect(await composer.inputValue()).toBe('');
    // The editor too: Enter is a new line, Save saves.
    const seq = await message(phone, 'second line').getAttribute('data-seq');
    const mine = phone.locator(`[data-testid="message"][data-seq="${seq}"]`); // its text is in the editor while editing
    // Its actions show while it holds the focus (or on hover, which a tap gives only until the next redraw).
    await mine.getByTestId('message-edit').focus();
    await mine.getByTestId('message-edit').tap();
    const editor = phone.getByTestId('message-edit-input');
    await editor.press('Enter');
    await editor.pressSequentially('third line');
    expect(await editor.inputValue()).toBe('First line\nsecond line\nthird line');
    await mine.getByRole('button', { name: 'Save' }).tap();
    await message(phone, 'third line').filter({ hasText: 'edited' }).waitFor();

    // A desktop: Shift+Enter is the new line, Enter sends.
    const desk = await openPage('rui');
    await signInThroughForm(desk, { ...rui.user, password: rui.password });
    await desk.getByTestId('chat-item').filter({ hasText: 'Pam Touch' }).click();
    const deskComposer = desk.getByTestId('composer-input');
    expect(await deskComposer.getAttribute('enterkeyhint')).toBe('send');
    await deskComposer.fill('One');
    await deskComposer.press('Shift+Enter');
    await deskComposer.pressSequentially('two');
    expect(await deskComposer.inputValue()).toBe('One\ntwo');
    await deskComposer.press('Enter');
    await message(desk, 'two').locator('[data-testid="tick"][data-status="sent"]').waitFor();
    expect(await deskComposer.inputValue()).toBe('');
    expect((await stored())[0]).toBe('One\ntwo');
    expect(pageErrors()).toEqual([]);
  });

  it("shows a direct chat's other person online, with their photo, in the list before the chat is opened", async () => {
    const request = httpClient(app.url);
    const [lee, max] = [await signUpAndIn(request, 'Lee Park'), await signUpAndIn(request, 'Max Ono')];
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(IMAGES.png)], { type: 'image/png' }), 'me.png');
    expect((await request('PUT', '/api/v1/users/me/avatar', { raw: form, token: max.accessToken })).status).toBe(200);
    expect((await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: max.user.id }, token: lee.accessToken })).status).toBe(
      201,
    );
    const maxOnline = await connectReady(app.wsUrl, max.accessToken);
    try {
      const page = await openPage('lee');
      await signInThroughForm(page, { ...lee.user, password: lee.password });
      const item = page.getByTestId('chat-item').filter({ hasText: 'Max Ono' });
      await item.locator('.avatar.online img').waitFor();
      expect(pageErrors()).toEqual([]);
    } finally {
      await maxOnline.close();
    }
  });

  it("shows a group's members online in the chat info, as the chat's detail says and then as presence frames say", async () => {
    const request = httpClient(app.url);
    const [pia, quin, rex] = [
      await signUpAndIn(request, 'Pia Moon'),
      await signUpAndIn(request, 'Quin Early'),
      await signUpAndIn(request, 'Rex Later'),
    ];
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Who is here', memberIds: [quin.user.id, rex.user.id] },
      token: pia.accessToken,
    });
    expect(group.status).toBe(201);
    // Online before Pia's page connects: no presence frame tells the page, the chat's detail does.
    const quinOnline = await connectReady(app.wsUrl, quin.accessToken);
    let rexOnline: Awaited<ReturnType<typeof connectReady>> | undefined;
    try {
      const page = await openPage('pia');
      await signInThroughForm(page, { ...pia.user, password: pia.password });
      await connection(page, 'online').waitFor();
      await page.getByTestId('chat-item').filter({ hasText: 'Who is here' }).click();
      await page.getByTestId('open-chat-info').click();
      const row = (name: string) => page.getByTestId('chat-info-dialog').getByTestId('info-member').filter({ hasText: name });
      await row('Quin Early').locator('.avatar.online').waitFor();
      expect(await row('Rex Later').locator('.avatar.online').count()).toBe(0);

      // Then the presence frames, while the dialog stays open.
      rexOnline = await connectReady(app.wsUrl, rex.accessToken);
      await row('Rex Later').locator('.avatar.online').waitFor();
      await quinOnline.close();
      await row('Quin Early').locator('.avatar:not(.online)').waitFor();
      expect(pageErrors()).toEqual([]);
    } finally {
      await quinOnline.close();
      await rexOnline?.close();
    }
  });

  it('keeps a chat read when an answer about it that left the server before the read arrives after it', async () => {
    const request = httpClient(app.url);
    const [ana, ben] = [await signUpAndIn(request, 'Ana Read'), await signUpAndIn(request, 'Ben Write')];
    const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: ben.user.id }, token: ana.accessToken });
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Long talk', memberIds: [ben.user.id] },
      token: ana.accessToken,
    });
    const send = (chatId: string, text: string) =>
      request('POST', `/api/v1/chats/${chatId}/messages`, { body: { text }, token: ben.accessToken });
    expect((await send(direct.body.id, 'Direct 1')).status).toBe(201);
    for (let i = 1; i <= 40; i++) expect((await send(group.body.id, `Talk ${i}`)).status).toBe(201);
    // Read on another device: the group opens at its newest message (not at a "New messages" divider).
    expect((await request('POST', `/api/v1/chats/${group.body.id}/read`, { body: { seq: 40 }, token: ana.accessToken })).status).toBe(204);

    const page = await openPage('ana');
    await signInThroughForm(page, { ...ana.user, password: ana.password });
    await connection(page, 'online').waitFor();
    const directItem = page.locator(`[data-testid="chat-item"][data-chat-id="${direct.body.id}"]`);
    // By keyboard, as by a click: each item of the list is one button (so announced as one), opened with Enter.
    await directItem.getByRole('button').focus();
    await page.keyboard.press('Enter');
    await message(page, 'Direct 1').waitFor();
    // A chat long enough to scroll, open at its newest message: leaving it scrolls the list.
    await page.getByTestId('chat-item').filter({ hasText: 'Long talk' }).click();
    await message(page, 'Talk 40').waitFor();
    expect(await page.getByTestId('messages').evaluate((box) => box.scrollTop)).toBeGreaterThan(0);
    expect((await send(direct.body.id, 'Direct 2')).status).toBe(201);
    await directItem.getByTestId('unread-badge').waitFor();

    // The chat's detail as the server had it before the page marked the chat read: held until the
    // page has done so (or 5 s), then handed over saying what it said then, unreadCount 1.
    let answered = false;
    await page.route(`**/api/v1/chats/${direct.body.id}`, async (route) => {
      const response = await route.fetch();
      const stale = { ...(await response.json()), unreadCount: 1 };
      await directItem
        .getByTestId('unread-badge')
        .waitFor({ state: 'detached', timeout: 5_000 })
        .catch(() => undefined);
      await route.fulfill({ response, json: stale });
      answered = true;
    });
    await directItem.click();
    await message(page, 'Direct 2').waitFor();
    while (!answered) await delay(50);
    await delay(300);
    expect(await directItem.getByTestId('unread-badge').count()).toBe(0);
    expect(await page.title()).toBe('Parley');
    expect(pageErrors()).toEqual([]);
  });

  it('says which modules it needs when the server runs without some, instead of offering forms that fail', async () => {
    const partial = await startTestApp({ ...db.env, MODULES: 'auth,users,health' });
    try {
      const page = await openPage('partial');
      await page.goto(`${partial.url}/ui/`);
      await expectText(page.getByTestId('token-status'), 'this server runs without chats, messages (MODULES)');
      expect(await page.getByTestId('sign-in-form').isVisible()).toBe(false);
      // The links from emails need only auth and users: they still work.
      await page.goto(`${partial.url}/ui/#/reset-password?token=some-token`);
      await page.getByTestId('reset-form').waitFor();
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(partial);
    }
  });

  it('keeps its typing frames under the server limit when short replies go out fast, with no error shown', async () => {
    const request = httpClient(app.url);
    const fay = await signUpAndIn(request, 'Fay Lund');
    const gus = await signUpAndIn(request, 'Gus Hale');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: gus.user.id }, token: fay.accessToken });
    await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text: 'Quick questions?' }, token: gus.accessToken });

    const page = await openPage('fay');
    const refused: string[] = [];
    page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        if (String(payload).includes('"type":"error"')) refused.push(String(payload));
      }),
    );
    await signInThroughForm(page, { ...fay.user, password: fay.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Gus Hale' }).click();
    await message(page, 'Quick questions?').waitFor();
    const replies = Array.from({ length: 12 }, (_, i) => `reply ${i + 1}`);
    for (const reply of replies) {
      await page.getByTestId('composer-input').pressSequentially(reply, { delay: 5 });
      await page.getByTestId('composer-input').press('Enter');
    }
    // Taken by the server: it answers a socket's frames in order, so a refusal of any frame before
    // it (the typing frames; a send clears the indicator without one) would have come first.
    await message(page, 'reply 12').locator('[data-testid="tick"]:not([data-status="pending"])').waitFor();
    expect(refused).toEqual([]);
    expect(await page.getByTestId('toast').isHidden()).toBe(true);
    expect(pageErrors()).toEqual([]);
  });

  it('tells the server how far it has read at most once a second per chat, as a busy chat comes in, and ends at the newest', async () => {
    const request = httpClient(app.url);
    const [lia, max] = [await signUpAndIn(request, 'Lia Reads'), await signUpAndIn(request, 'Max Talks')];
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: max.user.id }, token: lia.accessToken });
    const send = (text: string) => request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text }, token: max.accessToken });
    expect((await send('first')).status).toBe(201);
    const page = await openPage('lia');
    const reports: number[] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        const frame = JSON.parse(String(payload));
        if (frame.type === 'mark_read') reports.push(frame.seq);
      }),
    );
    await signInThroughForm(page, { ...lia.user, password: lia.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Max Talks' }).click();
    await message(page, 'first').waitFor();
    await eventually(() => reports.length === 1);
    // 30 messages in about a second, each read as it shows: a report at once, then one a second.
    const started = Date.now();
    for (let i = 2; i <= 31; i++) expect((await send(`note ${i}!`)).status).toBe(201);
    const seconds = (Date.now() - started) / 1000;
    await message(page, 'note 31!').waitFor();
    const lastSeqRead = async () =>
      (await request('GET', `/api/v1/chats/${chat.body.id}`, { token: lia.accessToken })).body.members.find(
        (m: { userId: string }) => m.userId === lia.user.id,
      ).lastReadSeq;
    await eventually(async () => (await lastSeqRead()) === 31);
    expect(reports.at(-1)).toBe(31);
    expect(reports.length).toBeLessThanOrEqual(Math.ceil(seconds) + 3);
    expect(await page.getByTestId('toast').isHidden()).toBe(true);
    expect(pageErrors()).toEqual([]);
  });

  it('takes a refused read report (too many, several tabs together) quietly, with no error shown', async () => {
    const limited = await startTestApp({ ...db.env, RATE_LIMIT_READS_PER_USER: '1' });
    try {
      const request = httpClient(limited.url);
      const [ned, ola] = [await signUpAndIn(request, 'Ned Quiet'), await signUpAndIn(request, 'Ola Loud')];
      const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: ola.user.id }, token: ned.accessToken });
      const send = (text: string) => request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text }, token: ola.accessToken });
      expect((await send('one')).status).toBe(201);
      const page = await openPage('ned');
      const refusals: Array<{ id?: string; code: string }> = [];
      page.on('websocket', (ws) =>
        ws.on('framereceived', ({ payload }) => {
          const frame = JSON.parse(String(payload));
          if (frame.type === 'error') refusals.push(frame);
        }),
      );
      await signInThroughForm(page, { ...ned.user, password: ned.password }, limited.url);
      await connection(page, 'online').waitFor();
      await page.getByTestId('chat-item').filter({ hasText: 'Ola Loud' }).click();
      await message(page, 'one').waitFor(); // read: the one report a minute this server allows
      expect((await send('two')).status).toBe(201);
      await message(page, 'two').waitFor();
      await eventually(() => refusals.length === 1, 5_000);
      expect(refusals[0]).toMatchObject({ id: `read:${chat.body.id}`, code: 'RATE_LIMITED' });
      await delay(300);
      expect(await page.getByTestId('toast').isHidden()).toBe(true);
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(limited);
    }
  });

  it('tells the server again, after a reconnect, a read report lost with the socket (refused as the server restarted)', async () => {
    const request = httpClient(app.url);
    const [pia, rex] = [await signUpAndIn(request, 'Pia Lost'), await signUpAndIn(request, 'Rex Sends')];
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: rex.user.id }, token: pia.accessToken });
    const send = (text: string) => request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text }, token: rex.accessToken });
    const lastSeqRead = async () =>
      (await request('GET', `/api/v1/chats/${chat.body.id}`, { token: pia.accessToken })).body.members.find(
        (m: { userId: string }) => m.userId === pia.user.id,
      ).lastReadSeq;
    expect((await send('before')).status).toBe(201);

    // A relay refuses the first read report of seq 2 as a restarting server does, and drops the socket.
    const page = await openPage('pia');
    let refused = false;
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => ws.send(frame));
      ws.onMessage((raw) => {
        const frame = JSON.parse(String(raw));
        if (frame.type === 'mark_read' && frame.seq === 2 && !refused) {
          refused = true;
          const message = 'The server is restarting; send this again once reconnected.';
          ws.send(
            JSON.stringify({
              type: 'error',
              statusCode: 503,
              error: 'Service Unavailable',
              code: 'SERVER_RESTARTING',
              message,
              id: frame.id,
            }),
          );
          void ws.close({ code: 1012, reason: 'SERVER_RESTARTING' });
          void server.close();
          return;
        }
        server.send(raw);
      });
    });
    await signInThroughForm(page, { ...pia.user, password: pia.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Rex Sends' }).click();
    await message(page, 'before').waitFor();
    await eventually(async () => (await lastSeqRead()) === 1);
    await delay(1100); // the next report may go at once
    expect((await send('after')).status).toBe(201);
    await message(page, 'after').waitFor();
    await eventually(() => refused);
    // Told again once the socket is back (the chat list says the server counts it unread), or after the wait.
    await eventually(async () => (await lastSeqRead()) === 2);
    await connection(page, 'online').waitFor();
    expect(await page.getByTestId('toast').isHidden()).toBe(true);
    expect(pageErrors()).toEqual([]);
  });

  it('shows, after a reconnect, the edits and deletes made while it was disconnected', async () => {
    const request = httpClient(app.url);
    const dave = await signUpAndIn(request, 'Dave Ito');
    const erin = await signUpAndIn(request, 'Erin Moss');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: erin.user.id }, token: dave.accessToken });
    const say = async (text: string) =>
      (await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text }, token: dave.accessToken })).body as { id: string };
    const typo = await say('See you at nine');
    const regret = await say('Bring the cake');

    // Erin's page reaches the server through a relay that can go deaf, then drop the connection.
    const page = await openPage('erin');
    let deaf = false;
    const lost: string[] = [];
    const relays: Array<{ close(): Promise<void> }> = [];
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (!deaf) ws.send(frame);
        else lost.push(String(frame));
      });
      relays.push({ close: () => ws.close({ code: 1006 }) });
    });
    await signInThroughForm(page, { ...erin.user, password: erin.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Dave Ito' }).click();
    await message(page, 'Bring the cake').waitFor();

    deaf = true; // the frames of what follows are lost
    const messages = `/api/v1/chats/${chat.body.id}/messages`;
    expect((await request('PATCH', `${messages}/${typo.id}`, { body: { text: 'See you at ten' }, token: dave.accessToken })).status).toBe(
      200,
    );
    expect((await request('DELETE', `${messages}/${regret.id}`, { token: dave.accessToken })).status).toBe(204);
    await say('Sent while you were away');
    // Its frame came last (after the edit's and the delete's, on the same socket), and was lost too.
    await eventually(() => lost.some((frame) => frame.includes('Sent while you were away')));
    deaf = false;
    await relays.at(-1)!.close(); // the page reconnects and catches up

    await message(page, 'Sent while you were away').waitFor();
    await message(page, 'See you at ten').waitFor();
    await message(page, 'Bring the cake').waitFor({ state: 'detached' });
    expect(await page.getByTestId('message-text').allTextContents()).not.toContain('See you at nine');
    expect(pageErrors()).toEqual([]);
  });

  it('keeps what is typed in the editor while the message is redrawn (its tick turns), and closes the editor when it is deleted elsewhere', async () => {
    const request = httpClient(app.url);
    const faye = await signUpAndIn(request, 'Faye Draft');
    const gus = await signUpAndIn(request, 'Gus Reader');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: gus.user.id }, token: faye.accessToken });
    const messages = `/api/v1/chats/${chat.body.id}/messages`;
    const page = await openPage('faye');
    await signInThroughForm(page, { ...faye.user, password: faye.password });
    await page.getByTestId('chat-item').filter({ hasText: 'Gus Reader' }).click();
    await page.getByTestId('composer-input').fill('typo mesage');
    await page.getByTestId('composer-input').press('Enter');
    const typo = message(page, 'typo mesage');
    await typo.locator('[data-testid="tick"][data-status="sent"]').waitFor();
    const seq = Number(await typo.getAttribute('data-seq'));
    const mine = page.locator(`[data-testid="message"][data-seq="${seq}"]`); // its text is in the editor while editing

    await typo.hover();
    await typo.getByTestId('message-edit').click();
    const editor = page.getByTestId('message-edit-input');
    await editor.fill('typo message, fixed and a long careful rewrite');
    // Gus reads it: the tick turns to seen, and the message is drawn again.
    expect((await request('POST', `/api/v1/chats/${chat.body.id}/read`, { body: { seq }, token: gus.accessToken })).status).toBeLessThan(
      300,
    );
    await page.locator(`[data-testid="message"][data-seq="${seq}"][data-status="seen"]`).waitFor();
    expect(await editor.inputValue()).toBe('typo message, fixed and a long careful rewrite');
    await editor.press('Enter');
    await message(page, 'typo message, fixed and a long careful rewrite').filter({ hasText: 'edited' }).waitFor();

    // A save that fails (the network, then the server) keeps the editor open with what was typed, to try again.
    await mine.hover();
    await mine.getByTestId('message-edit').click();
    await editor.fill('typo message, third try');
    let failures = 0;
    const failTwice = async (route: Route) => {
      if (route.request().method() !== 'PATCH' || failures === 2) return route.continue();
      if (++failures === 1) return route.abort('internetdisconnected');
      return route.fulfill({ status: 500, json: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' } });
    };
    await page.route(`**${messages}/*`, failTwice);
    await editor.press('Enter');
    await expectText(page.getByTestId('toast'), 'The server could not be reached');
    expect(await editor.inputValue()).toBe('typo message, third try');
    await mine.getByRole('button', { name: 'Save' }).click();
    await expectText(page.getByTestId('toast'), 'Internal server error');
    expect({ failures, text: await editor.inputValue() }).toEqual({ failures: 2, text: 'typo message, third try' });
    await editor.press('Enter');
    await message(page, 'typo message, third try').filter({ hasText: 'edited' }).waitFor();
    await page.unroute(`**${messages}/*`, failTwice);

    // Deleted from another device while being edited: the editor closes, saying so.
    await mine.hover();
    await mine.getByTestId('message-edit').click();
    await editor.fill('never saved');
    const id = (await request('GET', messages, { token: faye.accessToken })).body.items[0].id as string;
    expect((await request('DELETE', `${messages}/${id}`, { token: faye.accessToken })).status).toBe(204);
    await expectText(page.getByTestId('toast'), 'The message you were editing was deleted.');
    await editor.waitFor({ state: 'detached' });
    expect(pageErrors()).toEqual([]);
  });

  it('keeps what is typed in the composer with its chat, and gives it back when that chat is opened again', async () => {
    const request = httpClient(app.url);
    const [wyn, xia] = [await signUpAndIn(request, 'Wyn Draft'), await signUpAndIn(request, 'Xia Draft')];
    expect((await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: xia.user.id }, token: wyn.accessToken })).status).toBe(
      201,
    );
    const group = await request('POST', '/api/v1/chats', {
      body: { type: 'group', title: 'Plans', memberIds: [xia.user.id] },
      token: wyn.accessToken,
    });
    expect(group.status).toBe(201);
    const page = await openPage('wyn');
    await signInThroughForm(page, { ...wyn.user, password: wyn.password });
    const composer = page.getByTestId('composer-input');
    const open = async (title: string) => {
      await page.getByTestId('chat-item').filter({ hasText: title }).click();
      await expectText(page.getByTestId('chat-title'), title);
    };

    await open('Xia Draft');
    await composer.fill('Half a thought\nand a second line');
    await open('Plans');
    expect(await composer.inputValue()).toBe('');
    await composer.fill('For the group');
    await open('Xia Draft');
    expect(await composer.inputValue()).toBe('Half a thought\nand a second line');
    // Left for the list (Back, on a phone) and opened again: still there.
    await page.evaluate("location.hash = '#/'");
    await page.locator('[data-slot="pane-chat"]').waitFor({ state: 'hidden' });
    await open('Plans');
    expect(await composer.inputValue()).toBe('For the group');
    // Sent, it is no draft any more.
    await composer.press('Enter');
    await message(page, 'For the group').waitFor();
    await open('Xia Draft');
    await open('Plans');
    expect(await composer.inputValue()).toBe('');
    expect(pageErrors()).toEqual([]);
  });

  it('says, for a confirm link opened again in a new page, that the email is confirmed already', async () => {
    const request = httpClient(app.url);
    const ivy = await signUpAndIn(request, 'Ivy Twice');
    const mail = await sink.waitFor(
      (m) => m.text?.includes('/ui/#/confirm-email?token=') === true && JSON.stringify(m.to).includes(ivy.user.email),
    );
    const link = linkIn(mail.text ?? '', 'confirm-email', app.url);
    const page = await openPage('ivy');
    await signInThroughForm(page, { ...ivy.user, password: ivy.password });
    await page.goto(link);
    await expectText(page.getByTestId('token-status'), 'Your email is confirmed');
    await page.reload(); // the same link again, in a page not drawn yet
    await expectText(page.getByTestId('token-status'), 'your own email is confirmed already');
  });

  it("keeps this account's confirm banner after confirming another account's email in the same tab", async () => {
    const request = httpClient(app.url);
    const [dan, eve] = [await signUpAndIn(request, 'Dan Unconfirmed'), await signUpAndIn(request, 'Eve Elsewhere')];
    const toEve = await sink.waitFor(
      (mail) => mail.text?.includes('/ui/#/confirm-email?token=') === true && JSON.stringify(mail.to).includes(eve.user.email),
    );
    const page = await openPage('dan');
    await signInThroughForm(page, { ...dan.user, password: dan.password });
    await page.locator('[data-slot="email-banner"]').waitFor();
    await page.goto(linkIn(toEve.text ?? '', 'confirm-email', app.url));
    await expectText(page.getByTestId('token-status'), 'Your email is confirmed');
    await page.getByTestId('token-continue').click();
    await expectText(page.getByTestId('me-name'), 'Dan Unconfirmed');
    // Eve's address is confirmed, not Dan's: his banner stays.
    await page.locator('[data-slot="email-banner"]').waitFor();
    expect((await request('GET', '/api/v1/users/me', { token: eve.accessToken })).body.emailConfirmed).toBe(true);
    expect(pageErrors()).toEqual([]);
  });

  it('signs up through the form, asks for the confirmation email again, then confirms the email and resets the password from the emailed links', async () => {
    const page = await openPage('carol');
    const carol = { name: 'Carol Diaz', email: uniqueEmail('carol'), password: 'first-passw0rd' };
    await page.goto(`${app.url}/ui/`);
    await page.getByTestId('tab-sign-up').click();
    await page.getByTestId('sign-up-name').fill(carol.name);
    await page.getByTestId('sign-up-email').fill(carol.email);
    await page.getByTestId('sign-up-password').fill(carol.password);
    await page.getByTestId('sign-up-submit').click();
    await expectText(page.getByTestId('me-name'), carol.name);

    const confirmationTo = (mail: ParsedMail) =>
      mail.text?.includes('/ui/#/confirm-email?token=') === true && mail.to !== undefined && JSON.stringify(mail.to).includes(carol.email);
    const first = await sink.waitFor(confirmationTo);
    // "Send it again" in the banner: a new email, whose link is the one that works.
    await page.getByTestId('resend-confirmation').click();
    await expectText(page.getByTestId('toast').last(), 'We sent you a new email');
    const confirmation = await sink.waitFor((mail) => mail !== first && confirmationTo(mail));
    const request = httpClient(app.url);
    const stale = new URL(linkIn(first.text ?? '', 'confirm-email', app.url)).hash.split('token=')[1];
    expect((await request('POST', '/api/v1/auth/confirm-email', { body: { token: decodeURIComponent(stale) } })).body.code).toBe(
      'INVALID_TOKEN',
    );
    await expect(page.locator('[data-slot="email-banner"]').isVisible()).resolves.toBe(true);
    await page.goto(linkIn(confirmation.text ?? '', 'confirm-email', app.url));
    await expectText(page.getByTestId('token-status'), 'Your email is confirmed');
    // Back in the same tab, the banner asking to confirm is gone.
    await page.getByTestId('token-continue').click();
    await page.locator('[data-slot="email-banner"]').waitFor({ state: 'hidden' });
    const signedIn = await request('POST', '/api/v1/auth/sign-in', { body: { email: carol.email, password: carol.password } });
    expect(signedIn.body.user.emailConfirmed).toBe(true);

    await request('POST', '/api/v1/auth/password/forgot', { body: { email: carol.email } });
    const reset = await sink.waitFor(
      (mail) => mail.text?.includes('/ui/#/reset-password?token=') === true && JSON.stringify(mail.to).includes(carol.email),
    );
    await page.goto(linkIn(reset.text ?? '', 'reset-password', app.url));
    await page.getByTestId('reset-password').fill('second-passw0rd');
    await page.getByTestId('reset-repeat').fill('second-passw0rd');
    await page.getByTestId('reset-submit').click();
    await expectText(page.getByTestId('token-status'), 'Your password is changed');

    // The old password no longer works; the new one does, through the page.
    const old = await request('POST', '/api/v1/auth/sign-in', { body: { email: carol.email, password: carol.password } });
    expect(old.status).toBe(401);
    await page.getByTestId('token-continue').click();
    await page.getByTestId('sign-in-form').waitFor();
    await page.getByTestId('sign-in-email').fill(carol.email);
    await page.getByTestId('sign-in-password').fill('second-passw0rd');
    await page.getByTestId('sign-in-submit').click();
    await expectText(page.getByTestId('me-name'), carol.name);

    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-form').waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/v1/users/me')).status);
    expect(me).toBe(401);
    expect(pageErrors()).toEqual([]);
  });

  it('pages back through the whole history when a message not loaded yet is edited', async () => {
    const request = httpClient(app.url);
    const hana = await signUpAndIn(request, 'Hana Sato');
    const ivan = await signUpAndIn(request, 'Ivan Petrov');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: ivan.user.id }, token: hana.accessToken });
    const ids: string[] = [];
    for (let n = 1; n <= 100; n++) {
      const sent = await request('POST', `/api/v1/chats/${chat.body.id}/messages`, {
        body: { text: `History ${n}` },
        token: hana.accessToken,
      });
      expect(sent.body.seq).toBe(n);
      ids.push(sent.body.id);
    }
    // Read on another device: the chat opens at its newest page (unread, it would load back to the first unread).
    expect((await request('POST', `/api/v1/chats/${chat.body.id}/read`, { body: { seq: 100 }, token: ivan.accessToken })).status).toBe(204);

    const page = await openPage('ivan');
    await signInThroughForm(page, { ...ivan.user, password: ivan.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Hana Sato' }).click();
    await message(page, 'History 100').waitFor();
    const seqsShown = async () =>
      (await page.getByTestId('message').evaluateAll((nodes: any[]) => nodes.map((n) => n.getAttribute('data-seq')))).map(Number);
    expect(Math.min(...(await seqsShown()))).toBeGreaterThan(5);

    // Hana edits a message the page has not loaded, then one it shows: frames come in order, so
    // once the second edit shows, the first has been handled.
    const edit = (id: string, text: string) =>
      request('PATCH', `/api/v1/chats/${chat.body.id}/messages/${id}`, { body: { text }, token: hana.accessToken });
    expect((await edit(ids[4], 'History 5, edited')).status).toBe(200);
    expect((await edit(ids[99], 'History 100, edited')).status).toBe(200);
    await message(page, 'History 100, edited').waitFor();
    expect(await page.locator('[data-testid="message"][data-seq="5"]').count()).toBe(0);

    // Scrolling up reaches the beginning through every page, the edited message in its place.
    const edge = page.locator('[data-slot="history-edge"]');
    const until = Date.now() + STEP_TIMEOUT_MS;
    while (!(await edge.textContent())?.includes('beginning')) {
      if (Date.now() > until) throw new Error(`scrolling up never reached the beginning; shown: ${(await seqsShown()).join(',')}`);
      await page.getByTestId('messages').evaluate((box: any) => {
        box.scrollTop = 0;
        box.dispatchEvent(new box.ownerDocument.defaultView.Event('scroll'));
      });
      await delay(100);
    }
    expect(await seqsShown()).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await message(page, 'History 5, edited').waitFor();
    expect(pageErrors()).toEqual([]);
  });

  it('signs out without reporting an ended session, even when the socket closes before the answer', async () => {
    const request = httpClient(app.url);
    const jun = await signUpAndIn(request, 'Jun Park');
    const page = await openPage('jun');
    let socketClosed!: () => void;
    const closed = new Promise<void>((resolve) => (socketClosed = resolve));
    page.on('websocket', (ws) => ws.on('close', () => socketClosed()));
    const refreshes: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(r.url());
    });
    await signInThroughForm(page, { ...jun.user, password: jun.password });
    await connection(page, 'online').waitFor();

    // The server ends the session, closes its sockets with 4401, then answers: the answer is held
    // until the socket has closed, as on a slow network.
    await page.route('**/api/v1/auth/sign-out', async (route) => {
      const response = await route.fetch();
      await Promise.race([closed, delay(5_000)]);
      await delay(500);
      await route.fulfill({ response });
    });
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-form').waitFor();
    await delay(300);
    expect(refreshes).toEqual([]);
    expect(await page.locator('.toast.error:not([hidden])').count()).toBe(0);
    expect(await page.evaluate(async () => (await fetch('/api/v1/users/me')).status)).toBe(401);
    expect(pageErrors()).toEqual([]);
  });

  it('sends again, with the same clientId, a message the server asked for again (restarting, rate limited)', async () => {
    const request = httpClient(app.url);
    const kim = await signUpAndIn(request, 'Kim Lee');
    const lou = await signUpAndIn(request, 'Lou Brandt');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: lou.user.id }, token: kim.accessToken });

    // A relay refuses the first try of each message the way the server does.
    const page = await openPage('kim');
    const tries: Array<{ text: string; clientId: string }> = [];
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => ws.send(frame));
      ws.onMessage((raw) => {
        const frame = JSON.parse(String(raw));
        if (frame.type === 'send_message' && !tries.some((t) => t.text === frame.text)) {
          tries.push({ text: frame.text, clientId: frame.clientId });
          if (frame.text === 'Through the restart') {
            const message = 'The server is restarting; send this again once reconnected.';
            ws.send(
              JSON.stringify({
                type: 'error',
                statusCode: 503,
                error: 'Service Unavailable',
                code: 'SERVER_RESTARTING',
                message,
                id: frame.id,
              }),
            );
            void ws.close({ code: 1012, reason: 'SERVER_RESTARTING' });
            void server.close();
          } else {
            const message = 'Too many frames; slow down.';
            ws.send(
              JSON.stringify({ type: 'error', statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED', message, id: frame.id }),
            );
          }
          return;
        }
        if (frame.type === 'send_message') tries.push({ text: frame.text, clientId: frame.clientId });
        server.send(raw);
      });
    });
    await signInThroughForm(page, { ...kim.user, password: kim.password });
    await connection(page, 'online').waitFor();
    await page.getByTestId('chat-item').filter({ hasText: 'Lou Brandt' }).click();

    for (const text of ['Through the rate limit', 'Through the restart']) {
      await page.getByTestId('composer-input').fill(text);
      await page.getByTestId('composer-input').press('Enter');
      const tick = message(page, text).locator('[data-testid="tick"]:not([data-status="pending"])');
      await tick.waitFor();
      expect(await tick.getAttribute('data-status')).not.toBe('failed');
      const clientIds = new Set(tries.filter((t) => t.text === text).map((t) => t.clientId));
      expect({ tries: tries.filter((t) => t.text === text).length > 1, clientIds: clientIds.size }).toEqual({ tries: true, clientIds: 1 });
    }
    await connection(page, 'online').waitFor();
    const stored = await request('GET', `/api/v1/chats/${chat.body.id}/messages`, { token: kim.accessToken });
    expect(stored.body.items.map((m: any) => m.text).sort()).toEqual(['Through the rate limit', 'Through the restart']);
    expect(pageErrors()).toEqual([]);
  });

  it('opens a chat linked while signed out once the user has signed in', async () => {
    const request = httpClient(app.url);
    const mia = await signUpAndIn(request, 'Mia Novak');
    const ned = await signUpAndIn(request, 'Ned Olsen');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: mia.user.id }, token: ned.accessToken });
    await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text: 'Have a look at this' }, token: ned.accessToken });

    const page = await openPage('mia');
    await page.goto(`${app.url}/ui/#/chat/${chat.body.id}`);
    await page.getByTestId('sign-in-email').fill(mia.user.email);
    await page.getByTestId('sign-in-password').fill(mia.password);
    await page.getByTestId('sign-in-submit').click();
    await expectText(page.getByTestId('me-name'), 'Mia Novak');
    expect(new URL(page.url()).hash).toBe(`#/chat/${chat.body.id}`);
    await expectText(page.getByTestId('chat-title'), 'Ned Olsen');
    await message(page, 'Have a look at this').waitFor();
    expect(pageErrors()).toEqual([]);
  });

  it('loads signed out without a failed request in the console, and a tab opened after a sign-in still joins it by the cookie', async () => {
    const request = httpClient(app.url);
    const sam = await signUpAndIn(request, 'Sam Quiet');
    const first = await openPage('sam-1');
    await first.goto(`${app.url}/ui/`);
    await first.getByTestId('sign-in-form').waitFor();
    await first.waitForLoadState('networkidle');
    expect(problemsOf(first)).toEqual([]);

    // Signed in here: a tab opened next has no token of its own, and goes by the cookies, reloaded too.
    await signInThroughForm(first, { ...sam.user, password: sam.password });
    const second = await openTab('sam-2', first);
    await second.goto(`${app.url}/ui/`);
    await expectText(second.getByTestId('me-name'), 'Sam Quiet');
    // Settled first: a reload cuts short what the page still has in flight, and the browser says so in the console.
    await connection(second, 'online').waitFor();
    await second.waitForLoadState('networkidle');
    await second.reload();
    await expectText(second.getByTestId('me-name'), 'Sam Quiet');
    await connection(second, 'online').waitFor();
    expect(problemsOf(second)).toEqual([]);

    // Signed out (which clears the cookies): the next tab is a signed-out load again, as quiet.
    await second.getByTestId('sign-out').click();
    await second.getByTestId('sign-in-form').waitFor();
    const third = await openTab('sam-3', first);
    await third.goto(`${app.url}/ui/`);
    await third.getByTestId('sign-in-form').waitFor();
    await third.waitForLoadState('networkidle');
    expect(problemsOf(third)).toEqual([]);
  });

  it('never lets a tab act as another account signed in in the same browser', async () => {
    const request = httpClient(app.url);
    const olga = await signUpAndIn(request, 'Olga Berg');
    const pete = await signUpAndIn(request, 'Pete Quinn');
    const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: pete.user.id }, token: olga.accessToken });

    // Each of the sockets of Olga's tab: whom the server took it for, and what went out on it.
    const pageO = await openPage('olga');
    // Pete's tab is opened before Olga signs in (later, it would take her cookie and be hers).
    const pageP = await openTab('pete', pageO);
    await pageP.goto(`${app.url}/ui/`);
    await pageP.getByTestId('sign-in-form').waitFor();
    const sockets: Array<{ readyAs: string[]; sent: any[] }> = [];
    pageO.on('websocket', (ws) => {
      const seen = { readyAs: [] as string[], sent: [] as any[] };
      sockets.push(seen);
      ws.on('framereceived', (f) => {
        const frame = JSON.parse(String(f.payload));
        if (frame.type === 'ready') seen.readyAs.push(frame.userId);
      });
      ws.on('framesent', (f) => seen.sent.push(JSON.parse(String(f.payload))));
    });
    await signInThroughForm(pageO, { ...olga.user, password: olga.password });
    await connection(pageO, 'online').waitFor();

    // Pete signs in in the other tab: the access_token cookie is his now. Olga's tab reloads (its
    // tokens stay in its sessionStorage) and opens a socket that carries his cookie.
    await pageP.getByTestId('sign-in-email').fill(pete.user.email);
    await pageP.getByTestId('sign-in-password').fill(pete.password);
    await pageP.getByTestId('sign-in-submit').click();
    await expectText(pageP.getByTestId('me-name'), 'Pete Quinn');
    await connection(pageP, 'online').waitFor();
    await pageO.reload();
    await expectText(pageO.getByTestId('me-name'), 'Olga Berg');
    await connection(pageO, 'online').waitFor();

    await pageO.getByTestId('chat-item').filter({ hasText: 'Pete Quinn' }).click();
    await pageO.getByTestId('composer-input').fill('Typed in Olga’s tab');
    await pageO.getByTestId('composer-input').press('Enter');
    // Stored (it has a seq), whoever the server took it for.
    await pageO.locator('[data-testid="message"]:not([data-seq=""])').filter({ hasText: 'Typed in Olga’s tab' }).waitFor();
    await expectText(pageP.getByTestId('chat-item').filter({ hasText: 'Olga Berg' }).getByTestId('chat-preview'), 'Typed in Olga’s tab');
    const stored = await request('GET', `/api/v1/chats/${chat.body.id}/messages`, { token: olga.accessToken });
    expect(stored.body.items.map((m: any) => [m.text, m.senderId])).toEqual([['Typed in Olga’s tab', olga.user.id]]);
    // Nothing but the auth frame went out on a socket the server took for Pete's.
    for (const socket of sockets.filter((s) => s.readyAs[0] !== olga.user.id)) {
      expect(socket.sent.filter((frame) => frame.type !== 'auth')).toEqual([]);
    }
    expect(pageErrors()).toEqual([]);
  });

  it('renews its socket before the access token expires, on the open socket: no reconnect, so contacts see no flicker', async () => {
    const shortLived = await startTestApp({ ...env, ACCESS_TOKEN_TTL: '6s' });
    try {
      const request = httpClient(shortLived.url);
      const ines = await signUpAndIn(request, 'Ines Moro');
      const page = await openPage('ines');
      const sockets: string[] = [];
      const closes: number[] = [];
      page.on('websocket', (ws) => {
        sockets.push(ws.url());
        ws.on('close', () => closes.push(Date.now()));
      });
      const refreshes = refreshesOf(page);
      await signInThroughForm(page, { ...ines.user, password: ines.password }, shortLived.url);
      await connection(page, 'online').waitFor();
      // Three lifetimes of the token: each would have closed the socket with 4401 at its end.
      await delay(18_000);
      expect(refreshes.length).toBeGreaterThanOrEqual(2);
      expect(refreshes.filter((status) => status !== 200)).toEqual([]);
      expect({ sockets: sockets.length, closes: closes.length }).toEqual({ sockets: 1, closes: 0 });
      await connection(page, 'online').waitFor();
      // And the socket still carries what it must: a message sent over REST arrives on it.
      const lou = await signUpAndIn(request, 'Lou Moro');
      const chat = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: ines.user.id }, token: lou.accessToken });
      await request('POST', `/api/v1/chats/${chat.body.id}/messages`, { body: { text: 'Still here?' }, token: lou.accessToken });
      await expectText(page.getByTestId('chat-item'), 'Still here?');
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(shortLived);
    }
  });

  it('renews by the server clock: a browser clock ten minutes ahead neither loops refreshes nor drops the socket', async () => {
    const shortLived = await startTestApp({ ...env, ACCESS_TOKEN_TTL: '6s' });
    try {
      const request = httpClient(shortLived.url);
      const ahead = await signUpAndIn(request, 'Tess Ahead');
      const page = await openPage('tess');
      await page.context().addInitScript(() => {
        const real = Date.now.bind(Date);
        Date.now = () => real() + 10 * 60 * 1000;
      });
      let sockets = 0;
      page.on('websocket', () => sockets++);
      const refreshes = refreshesOf(page);
      await signInThroughForm(page, { ...ahead.user, password: ahead.password }, shortLived.url);
      await connection(page, 'online').waitFor();
      await delay(12_000);
      // Two lifetimes: a renewal every ~3 s (half a lifetime at the least), not one a second.
      expect(refreshes.filter((status) => status !== 200)).toEqual([]);
      expect(refreshes.length).toBeGreaterThanOrEqual(2);
      expect(refreshes.length).toBeLessThanOrEqual(6);
      expect(sockets).toBe(1);
      await connection(page, 'online').waitFor();
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(shortLived);
    }
  });

  it('warns before signing out with messages not sent yet, and says when sends are held by the rate limit', async () => {
    const limited = await startTestApp({ ...env, RATE_LIMIT_MESSAGES_PER_USER: '2' });
    try {
      const request = httpClient(limited.url);
      const ada = await signUpAndIn(request, 'Ada Quist');
      const bo = await signUpAndIn(request, 'Bo Quist');
      const direct = await request('POST', '/api/v1/chats', { body: { type: 'direct', userId: bo.user.id }, token: ada.accessToken });
      const group = await request('POST', '/api/v1/chats', {
        body: { type: 'group', title: 'Quists', memberIds: [bo.user.id] },
        token: ada.accessToken,
      });
      const page = await openPage('ada');
      await signInThroughForm(page, { ...ada.user, password: ada.password }, limited.url);
      await connection(page, 'online').waitFor();
      await page.getByTestId('chat-item').filter({ hasText: 'Bo Quist' }).click();
      await page.waitForURL(/#\/chat\//);
      // Typed at once after a click on another chat: it goes to the chat clicked, not the one open before.
      await page.getByTestId('chat-item').filter({ hasText: 'Quists' }).click();
      await page.getByTestId('composer-input').fill('Right after the click');
      await page.getByTestId('composer-input').press('Enter');
      await message(page, 'Right after the click').locator('[data-testid="tick"][data-status="sent"]').waitFor();
      const inGroup = await request('GET', `/api/v1/chats/${group.body.id}/messages`, { token: ada.accessToken });
      expect(inGroup.body.items.map((m: any) => m.text)).toEqual(['Right after the click']);
      const inDirect = await request('GET', `/api/v1/chats/${direct.body.id}/messages`, { token: ada.accessToken });
      expect(inDirect.body.items).toEqual([]);

      for (const text of ['Second', 'Third, held']) {
        await page.getByTestId('composer-input').fill(text);
        await page.getByTestId('composer-input').press('Enter');
      }
      await expectText(page.getByTestId('toast'), 'Sending too fast');
      await message(page, 'Third, held').locator('[data-testid="tick"][data-status="pending"]').waitFor();

      const asked = new Promise<string>((resolve) =>
        page.once('dialog', async (dialog) => {
          const text = dialog.message();
          await dialog.dismiss();
          resolve(text);
        }),
      );
      await page.locator('[data-action="sign-out"]').click();
      expect(await asked).toMatch(/^A message is not sent yet, and will be lost\. Sign out anyway\?$/);
      // Cancelled: signing out stops the socket as soon as the question is answered (showing it
      // offline), before its request goes; the page has run on since.
      expect(await connection(page, 'online').count()).toBe(1);
      expect(await page.getByTestId('sign-in-form').isVisible()).toBe(false);
      page.once('dialog', (dialog) => void dialog.accept());
      await page.locator('[data-action="sign-out"]').click();
      await page.getByTestId('sign-in-form').waitFor();
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(limited);
    }
  });

  it('keeps two tabs of one session signed in through access-token expiries', async () => {
    // Access tokens (and the access_token cookie) that live 5 s, so that both tabs refresh several times.
    const shortLived = await startTestApp({ ...env, ACCESS_TOKEN_TTL: '5s' });
    try {
      const request = httpClient(shortLived.url);
      const rosa = await signUpAndIn(request, 'Rosa Vidal');
      const refreshes: number[] = [];
      const watch = (page: Page) =>
        page.on('response', (response) => {
          if (response.url().endsWith('/api/v1/auth/refresh')) refreshes.push(response.status());
        });

      const first = await openPage('rosa-1');
      watch(first);
      await signInThroughForm(first, { ...rosa.user, password: rosa.password }, shortLived.url);
      // A second tab has no tokens of its own: it goes by the cookies the sign-in set.
      const second = await openTab('rosa-2', first);
      watch(second);
      await second.goto(`${shortLived.url}/ui/`);
      await expectText(second.getByTestId('me-name'), 'Rosa Vidal');
      await connection(first, 'online').waitFor();
      await connection(second, 'online').waitFor();

      // Each expiry closes both sockets with 4401 at once; a refresh token used twice would end the session.
      const deadline = Date.now() + 60_000;
      while (
        refreshes.filter((status) => status === 200).length < 3 &&
        refreshes.every((status) => status === 200) &&
        Date.now() < deadline
      ) {
        await delay(200);
      }
      expect(refreshes.filter((status) => status !== 200)).toEqual([]);
      expect(refreshes.length).toBeGreaterThanOrEqual(3);
      for (const page of [first, second]) {
        await connection(page, 'online').waitFor();
        expect(await page.getByTestId('sign-in-form').isVisible()).toBe(false);
        await expectText(page.getByTestId('me-name'), 'Rosa Vidal');
      }
      expect(pageErrors()).toEqual([]);
    } finally {
      await closeApp(shortLived);
    }
  });
});
