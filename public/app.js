// Parley's built-in test chat page: one ES module, no dependencies, nothing from a CDN.
// REST for reads and account actions, one WebSocket (first-frame auth) for everything live.

const API = '/api/v1';
const SESSION_KEY = 'parley.session';
/**
 * localStorage: the session whose httpOnly cookies a sign-in or refresh in this browser left. A tab
 * with no token of its own asks the server about the cookies only when this is set: asked without
 * them, the server's 401 would show as an error in the console of every signed-out page.
 */
const COOKIE_HINT_KEY = 'parley.cookieSession';
/** IndexedDB database holding the current token pair of each session, shared by every tab of that session. */
const PAIR_DB = 'parley';
const SEED_PASSWORD = 'admin';
const SEED_USERS = ['admin@admin.ru', 'api-test@example.com', 'user1@example.com', 'user2@example.com', 'user3@example.com'];
const PAGE_SIZE = 30;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
/** Typing frames this page allows itself: under the server's own limit per user (5 at once, then 2 a second, all tabs together). */
const TYPING_BURST = 3;
const TYPING_PER_SECOND = 1;
/** How many of a chat's newest loaded messages are read again after a reconnect, for edits and deletes missed meanwhile. */
const RECHECK_MAX = 500;
/** The id typing frames carry, so that a refusal of one is recognised. */
const TYPING_FRAME_ID = 'typing';
/** The id of the auth frame that renews an open socket's token (its refusal is answered by the close that follows). */
const AUTH_FRAME_ID = 'auth';
/** mark_read frames carry this and their chat's id, so that a refusal of one is recognised (`read:<chatId>`). */
const READ_FRAME_PREFIX = 'read:';
/** A chat's read pointer is told to the server at most this often (the newest seq read, at the end of the wait): the server limits moves per user. */
const READ_REPORT_GAP_MS = 1000;
/** An open socket is renewed this long before its token expires, or a fifth of the token's lifetime if that is longer. */
const RENEW_BEFORE_MS = 5000;
const TYPING_SHOW_MS = 6000;
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const GROUP_GAP_MS = 5 * 60 * 1000;
/** A chat opened with more unread messages than this loads back this far at most to show where they begin; scrolling up loads the rest. */
const UNREAD_LOAD_MAX = 1000;
/** Space left above the "New messages" divider when a chat opens at it. */
const DIVIDER_MARGIN_PX = 8;
/** A touch screen: its keyboard has no Shift+Enter to hold, so Enter there is a new line and the buttons send. */
const coarsePointer = window.matchMedia('(pointer: coarse)');

// ---------------------------------------------------------------- state

const state = {
  config: { appEnv: 'PRODUCTION', seedUsers: false },
  /** { accessToken, refreshToken } — null tokens mean the httpOnly cookies carry the session. */
  session: null,
  /** The session this tab is signed in to: its access token's `sid`, or the socket's `ready` for a cookie-only tab. */
  sessionId: null,
  me: null,
  /** chatId → list item { id, type, title, memberCount, lastMessage, unreadCount, updatedAt, lastSeq } */
  chats: new Map(),
  /** chatId → { members: Map<userId, {userId, name, role, lastReadSeq}>, seenSeq } */
  details: new Map(),
  /** chatId → { messages: Map<seq, message>, pending: Map<clientId, pending>, oldest, hasMore, loaded, loading, myReadSeq, editing, draft } */
  threads: new Map(),
  openChatId: null,
  /** chatId → Map<userId, timer> of people typing there */
  typing: new Map(),
  /** userId → { online, lastSeenAt, heardAt } (heardAt: when a presence frame said so) */
  presence: new Map(),
  /** userId → name, from members and searches */
  names: new Map(),
  /** userId → avatarUrl (null: none), from profiles and searches */
  avatars: new Map(),
  started: false,
};

// ---------------------------------------------------------------- small DOM helpers

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const slot = (name) => $(`[data-slot="${name}"]`);

/** Builds an element; children are nodes or strings (always text, never HTML). */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof window.Node ? child : String(child));
  }
  return node;
}

function show(node, visible = true) {
  node.hidden = !visible;
}

let toastTimer;
function toast(text, kind = 'info') {
  const node = $('.toast');
  node.textContent = text;
  node.className = `toast ${kind}`;
  show(node);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => show(node, false), kind === 'error' ? 6000 : 3500);
}

/** The first character as a reader sees it (an emoji, a letter with its accents), not half of one. */
const graphemes = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter() : null;
function firstCharacter(word) {
  if (graphemes) return graphemes.segment(word)[Symbol.iterator]().next().value?.segment ?? '';
  return Array.from(word)[0] ?? '';
}

function initials(name) {
  const parts = String(name || '?')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return (firstCharacter(parts[0] ?? '?') + (parts.length > 1 ? firstCharacter(parts[parts.length - 1]) : '')).toUpperCase();
}

/** The server counts a message's length in code points; a textarea's maxlength counts UTF-16 units, half as many emoji. */
const MESSAGE_MAX = 4096;
/** Counted as the server counts: code points, the variation selectors U+FE0E and U+FE0F left out. */
const lengthOf = (text) => Array.from(text.replace(/[\uFE0E\uFE0F]/g, '')).length;
const tooLong = (text) => text.length > MESSAGE_MAX && lengthOf(text) > MESSAGE_MAX;

function hue(text) {
  let hash = 0;
  for (const ch of String(text)) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(hash) % 360;
}

function avatar(name, key, { group = false, online = false, url = null } = {}) {
  const node = h('span', { class: `avatar${group ? ' group' : ''}${online ? ' online' : ''}`, 'aria-hidden': 'true' }, initials(name));
  node.style.background = `linear-gradient(135deg, hsl(${hue(key)} 62% 58%), hsl(${(hue(key) + 40) % 360} 62% 46%))`;
  // The photo covers the initials once loaded; without one (or if it fails) the initials stay.
  if (url)
    avatarImage(url).then(
      (src) => node.append(h('img', { src, alt: '' })),
      () => undefined,
    );
  return node;
}

/** avatarUrl → a blob: URL of the image, fetched once: an <img> cannot send this tab's bearer token. */
const avatarImages = new Map();

function avatarImage(url) {
  let loading = avatarImages.get(url);
  if (!loading) {
    loading = (async () => {
      const headers = state.session?.accessToken ? { authorization: `Bearer ${state.session.accessToken}` } : {};
      const response = await fetch(url, { headers, credentials: 'same-origin' });
      if (!response.ok) throw new Error(`The avatar answered ${response.status}`);
      return window.URL.createObjectURL(await response.blob());
    })();
    loading.catch(() => avatarImages.delete(url));
    avatarImages.set(url, loading);
  }
  return loading;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(iso) {
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (dayKey(iso) === dayKey(today.toISOString())) return 'Today';
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return 'Yesterday';
  return longDateFormat.format(new Date(iso));
}

function shortTime(iso) {
  if (!iso) return '';
  return dayKey(iso) === dayKey(new Date().toISOString()) ? timeFormat.format(new Date(iso)) : dateFormat.format(new Date(iso));
}

function relativeTime(iso) {
  const minutes = Math.round((Date.now() - new Date(iso).getTime()) / 60000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `at ${timeFormat.format(new Date(iso))}`;
  return `on ${dateFormat.format(new Date(iso))}`;
}

/** crypto.randomUUID needs a secure context; a page opened over plain http on a LAN address is not one. */
function uuid() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  const b = window.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------- REST

class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.message || `Request failed (${status})`);
    this.status = status;
    this.code = body?.code;
    this.details = body?.details;
    this.retryAfter = Number(headers?.get('retry-after')) || undefined;
  }
}

async function request(method, path, body, { auth = true } = {}) {
  const headers = { accept: 'application/json' };
  // A FormData body (an upload) sets its own multipart type and boundary.
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers['content-type'] = 'application/json';
  if (auth && state.session?.accessToken) headers.authorization = `Bearer ${state.session.accessToken}`;
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    credentials: 'same-origin',
  });
  noteServerClock(response);
  const text = await response.text();
  const data = text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined;
  return { response, data };
}

/** How far the server's clock is ahead of this browser's (ms, to the second): token times are the server's. */
let serverClockOffset = 0;

function noteServerClock(response) {
  const date = Date.parse(response.headers.get('date') ?? '');
  if (!Number.isNaN(date)) serverClockOffset = date - Date.now();
}

/** A REST call; an expired access token is refreshed once and the call repeated. */
async function api(method, path, body, options = {}) {
  let { response, data } = await request(method, path, body, options);
  if (response.status === 401 && options.auth !== false && state.session) {
    if (await refreshSession()) ({ response, data } = await request(method, path, body, options));
    else {
      signedOut('Your session has ended. Please sign in again.');
      throw new ApiError(401, data, response.headers);
    }
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers);
  return data;
}

/** A JWT's claims, unchecked: only to know whose session a token is and when it expires (the server checks it). */
function claimsOf(token) {
  try {
    return JSON.parse(window.atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

function stillValid(token) {
  const exp = claimsOf(token)?.exp;
  return typeof exp === 'number' && exp * 1000 > Date.now() + 1000;
}

let refreshing = null;
/**
 * Refresh tokens are single-use and a reused one revokes the whole session, and every tab of a
 * session holds the same pair: so one refresh at a time in the whole browser (a Web Lock), and
 * whoever refreshes leaves the new pair in IndexedDB before letting go, where the others look first.
 * Not localStorage: Chromium gives each renderer process its own copy and passes writes on
 * later, so the next tab to get the lock could still read the pair just spent.
 * `force` refreshes even when another tab just did (a refresh also makes the cookies this session's).
 */
function refreshSession({ force = false } = {}) {
  refreshing ??= (async () => {
    try {
      return navigator.locks ? await navigator.locks.request('parley-refresh', () => renewTokens(force)) : await renewTokens(force);
    } catch {
      return false;
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

async function renewTokens(force) {
  if (!state.session) return false;
  // Another tab of this session refreshed while this one waited for the lock: its pair is the live one.
  const adopted = await adoptSharedPair();
  if (!state.session) return false;
  if (adopted && !force && stillValid(state.session.accessToken)) return true;
  const body = state.session.refreshToken ? { refreshToken: state.session.refreshToken } : {};
  const { response, data } = await request('POST', '/auth/refresh', body, { auth: false });
  if (!response.ok) {
    await forgetSharedPair(state.sessionId);
    return false;
  }
  noteCookieSession(data.accessToken); // the answer set the browser's cookies to this pair
  if (state.me && claimsOf(data.accessToken)?.sub !== state.me.id) {
    // A cookie-only tab refreshed the cookie of another account signed in since: that account's
    // tabs must get the pair it rotated, and this tab's own session is out of reach.
    await sharePair(data);
    return false;
  }
  await saveSession(data);
  return true;
}

/** Keeps the pair for this tab (sessionStorage) and for the other tabs of its session; resolves once they can see it. */
function saveSession(result, { share = true } = {}) {
  state.session = { accessToken: result.accessToken ?? null, refreshToken: result.refreshToken ?? null };
  state.sessionId = claimsOf(state.session.accessToken)?.sid ?? state.sessionId;
  if (result.user) state.me = result.user;
  try {
    window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  } catch {
    // Storage may be disabled; the session then lasts as long as the page (or the cookies).
  }
  return share ? sharePair(state.session) : Promise.resolve();
}

let pairDb = null;
/** One transaction on the pairs store; resolves with `use`'s request's result once committed. */
async function pairStore(mode, use) {
  pairDb ??= new Promise((resolve, reject) => {
    const open = window.indexedDB.open(PAIR_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('pairs', { keyPath: 'sessionId' });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const db = await pairDb;
  return new Promise((resolve, reject) => {
    const tx = db.transaction('pairs', mode);
    const req = use(tx.objectStore('pairs'));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

function sharePair(pair) {
  const sessionId = claimsOf(pair.accessToken)?.sid;
  if (!sessionId || !pair.refreshToken) return Promise.resolve();
  const entry = { sessionId, accessToken: pair.accessToken, refreshToken: pair.refreshToken };
  // Without IndexedDB, tabs of one session cannot share; each still refreshes under the lock.
  return pairStore('readwrite', (store) => store.put(entry)).catch(() => undefined);
}

async function sharedPair(sessionId) {
  if (!sessionId) return null;
  const pair = await pairStore('readonly', (store) => store.get(sessionId)).catch(() => null);
  return pair?.accessToken && pair.refreshToken ? pair : null;
}

/** Takes the pair another tab of this session left, if newer than ours: ours is then spent. */
async function adoptSharedPair() {
  const pair = await sharedPair(state.sessionId);
  if (!state.session || !pair || pair.sessionId !== state.sessionId || pair.refreshToken === state.session.refreshToken) return false;
  await saveSession(pair, { share: false });
  return true;
}

function forgetSharedPair(sessionId) {
  if (!sessionId) return Promise.resolve();
  return pairStore('readwrite', (store) => store.delete(sessionId)).catch(() => undefined);
}

/** Pairs of sessions whose refresh token has expired (tabs closed without signing out). */
async function pruneSharedPairs() {
  const all = await pairStore('readonly', (store) => store.getAll()).catch(() => []);
  for (const pair of all) if (!stillValid(pair.refreshToken)) await forgetSharedPair(pair.sessionId);
}

function noteCookieSession(accessToken) {
  try {
    window.localStorage.setItem(COOKIE_HINT_KEY, claimsOf(accessToken)?.sid ?? 'unknown');
  } catch {
    // Storage may be disabled: new tabs then show the sign-in form.
  }
}

function cookieSessionHint() {
  try {
    return window.localStorage.getItem(COOKIE_HINT_KEY);
  } catch {
    return null;
  }
}

function forgetCookieSession() {
  try {
    window.localStorage.removeItem(COOKIE_HINT_KEY);
  } catch {
    // nothing saved
  }
}

function loadSession() {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (saved && (saved.accessToken || saved.refreshToken)) return saved;
  } catch {
    // A damaged entry is as good as none.
  }
  return null;
}

/** "40 seconds", "15 minutes". */
function waitText(seconds) {
  return seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
}

function errorText(error) {
  if (!(error instanceof ApiError)) return 'The server could not be reached. Check your connection and try again.';
  if (error.status === 429) return `Too many attempts. Try again in ${waitText(error.retryAfter ?? 60)}.`;
  if (error.details?.length) {
    // The first complaint about each field is enough ("must not be blank" says it all).
    const perField = new Map();
    for (const d of error.details) if (!perField.has(d.field)) perField.set(d.field, d.message);
    return [...perField.values()].map(sentence).join(' ');
  }
  return sentence(error.message);
}

/** "token is invalid" → "Token is invalid." */
function sentence(text) {
  const trimmed = String(text ?? '').trim();
  if (!trimmed) return '';
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

// ---------------------------------------------------------------- routing

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, params: new window.URLSearchParams(query) };
}

/**
 * This server runs without modules the page needs: say so, instead of forms that would fail. The
 * links from emails (confirm, reset) need only auth and users, and still work.
 */
function showUnavailable(missing) {
  state.unavailable = missing;
  if (emailLinkServed()) return route();
  const status = tokenView('Parley', 'The built-in test chat');
  status.className = 'token-status bad';
  status.textContent =
    `This page needs the auth, users, chats and messages modules, and this server runs without ${missing.join(', ')} (MODULES). ` +
    'What it does run is described at /api/docs.';
}

/** An email link (confirm, reset) whose modules (auth, users) run. */
function emailLinkServed() {
  const { path } = parseHash();
  const accounts = !state.unavailable.includes('auth') && !state.unavailable.includes('users');
  return accounts && (path === '/confirm-email' || path === '/reset-password');
}

async function route() {
  if (state.unavailable && !emailLinkServed()) return showUnavailable(state.unavailable);
  const { path, params } = parseHash();
  if (path === '/confirm-email') return showConfirmEmail(params.get('token'));
  if (path === '/reset-password') return showResetPassword(params.get('token'));
  if (!state.session && !(await tryCookieSession())) return showAuth();
  await startChat();
  const match = path.match(/^\/chat\/([0-9a-f-]{36})$/i);
  if (match) await openChat(match[1]);
  else closeChat();
}

let cookieChecked = false;

/** A page opened in a new tab has no token in sessionStorage but may still have the httpOnly cookie. */
async function tryCookieSession() {
  if (cookieChecked) return false;
  cookieChecked = true;
  // Only when a sign-in in this browser may have left its cookies: a signed-out page asks nothing.
  if (!cookieSessionHint()) return false;
  const { response, data } = await request('GET', '/users/me', undefined, { auth: false }).catch(() => ({ response: { ok: false } }));
  if (response.status === 401) forgetCookieSession();
  if (!response.ok) return false;
  state.session = { accessToken: null, refreshToken: null };
  state.me = data;
  return true;
}

function showView(id) {
  for (const view of ['auth-view', 'token-view', 'chat-view']) show(document.getElementById(view), view === id);
}

// ---------------------------------------------------------------- signed out

function showAuth(panel = 'sign-in') {
  showView('auth-view');
  selectAuthPanel(panel);
  document.title = 'Sign in · Parley';
}

function selectAuthPanel(panel) {
  for (const tab of $$('.tabs [data-tab]')) tab.setAttribute('aria-selected', String(tab.dataset.tab === panel));
  for (const form of $$('#auth-view [data-panel]')) show(form, form.dataset.panel === panel);
  show($('.tabs'), panel !== 'forgot');
  const first = $(`#auth-view [data-panel="${panel}"] input`);
  if (first) requestAnimationFrame(() => first.focus());
}

function formError(form, text) {
  const node = $('.form-error', form);
  node.textContent = text ?? '';
  show(node, Boolean(text));
}

/** Disables a form's buttons while its request runs. */
async function busy(form, work) {
  const buttons = $$('button', form);
  for (const b of buttons) b.disabled = true;
  try {
    return await work();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function signIn(email, password, form) {
  formError(form, null);
  try {
    const result = await busy(form, () => api('POST', '/auth/sign-in', { email, password }, { auth: false }));
    noteCookieSession(result.accessToken);
    await saveSession(result);
    form.reset();
    // A chat link opened while signed out is where the user wanted to go; an email link's page is done.
    if (isTokenRoute()) location.hash = '#/';
    else await route();
  } catch (error) {
    formError(form, error.code === 'INVALID_CREDENTIALS' ? 'Wrong email or password.' : errorText(error));
  }
}

function bindAuthView() {
  for (const tab of $$('.tabs [data-tab]')) tab.addEventListener('click', () => selectAuthPanel(tab.dataset.tab));
  $('[data-action="show-forgot"]').addEventListener('click', () => selectAuthPanel('forgot'));
  $('[data-action="show-sign-in"]').addEventListener('click', () => selectAuthPanel('sign-in'));

  const signInForm = document.getElementById('sign-in-form');
  signInForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(signInForm);
    signIn(String(data.get('email')).trim(), String(data.get('password')), signInForm);
  });

  const signUpForm = document.getElementById('sign-up-form');
  signUpForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(signUpForm);
    const body = { name: String(data.get('name')).trim(), email: String(data.get('email')).trim(), password: String(data.get('password')) };
    formError(signUpForm, null);
    try {
      await busy(signUpForm, () => api('POST', '/auth/sign-up', body, { auth: false }));
    } catch (error) {
      formError(signUpForm, error.code === 'EMAIL_TAKEN' ? 'That email already has an account: sign in instead.' : errorText(error));
      return;
    }
    await signIn(body.email, body.password, signUpForm);
    toast('Welcome to Parley! We sent you an email to confirm your address.');
  });

  const forgotForm = document.getElementById('forgot-form');
  forgotForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError(forgotForm, null);
    const note = $('.form-note', forgotForm);
    try {
      await busy(forgotForm, () =>
        api('POST', '/auth/password/forgot', { email: String(new FormData(forgotForm).get('email')).trim() }, { auth: false }),
      );
      note.textContent = 'If that address has an account, a reset link is on its way.';
      show(note);
    } catch (error) {
      formError(forgotForm, errorText(error));
    }
  });
}

function renderSeedUsers() {
  const section = document.getElementById('seed-users');
  show(section, state.config.seedUsers);
  if (!state.config.seedUsers) return;
  const box = $('.seed-buttons', section);
  box.replaceChildren(
    ...SEED_USERS.map((email) =>
      h('button', {
        type: 'button',
        class: 'ghost',
        dataset: { testid: 'seed-user' },
        text: email,
        onclick: () => signIn(email, SEED_PASSWORD, document.getElementById('sign-in-form')),
      }),
    ),
  );
}

// ---------------------------------------------------------------- email links

function tokenView(title, subtitle) {
  showView('token-view');
  document.title = `${title} · Parley`;
  slot('title').textContent = title;
  slot('subtitle').textContent = subtitle;
  show(document.getElementById('reset-form'), false);
  show($('[data-testid="token-continue"]'), false);
  return $('[data-testid="token-status"]');
}

function tokenResult(status, text, ok) {
  status.textContent = text;
  status.className = `token-status ${ok ? 'ok' : 'bad'}`;
  show($('[data-testid="token-continue"]'));
}

async function showConfirmEmail(token) {
  const status = tokenView('Confirm your email', 'One click and you are done');
  if (!token) return tokenResult(status, 'This link has no token. Open the link from the email again.', false);
  status.className = 'token-status';
  status.textContent = 'Confirming your email…';
  try {
    await api('POST', '/auth/confirm-email', { token }, { auth: false });
    if (state.me) {
      // The link may have been another account's: ask whether this one is confirmed now.
      state.me = await api('GET', '/users/me').catch(() => state.me);
      renderMe(); // the banner goes if it was ours: "Continue" returns to a page that is already drawn
    }
    tokenResult(status, 'Your email is confirmed. Thank you!', true);
  } catch (error) {
    // Opened in a page not drawn yet (a new tab, or a reload): who is signed in, if anyone, is not
    // known yet, and decides the advice.
    if (!state.me && (state.session || (await tryCookieSession()))) state.me ??= await api('GET', '/users/me').catch(() => undefined);
    const again = !state.session
      ? 'sign in to get a new one'
      : state.me?.emailConfirmed
        ? 'your own email is confirmed already'
        : 'use "Send it again" in the banner for a new one';
    tokenResult(status, `This link did not work: ${errorText(error)} Links work once and expire; ${again}.`, false);
  }
}

function showResetPassword(token) {
  const status = tokenView('Choose a new password', 'Signing in again will use it');
  status.className = 'token-status';
  if (!token) return tokenResult(status, 'This link has no token. Open the link from the email again.', false);
  status.textContent = '';
  const form = document.getElementById('reset-form');
  show(form);
  form.reset();
  formError(form, null);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (data.get('password') !== data.get('repeat')) return formError(form, 'The two passwords differ.');
    formError(form, null);
    try {
      await busy(form, () => api('POST', '/auth/password/reset', { token, password: String(data.get('password')) }, { auth: false }));
    } catch (error) {
      return formError(form, errorText(error));
    }
    show(form, false);
    // The reset ended every session, this page's included.
    resetState();
    tokenResult(status, 'Your password is changed and every device was signed out. Sign in with the new password.', true);
  };
}

// ---------------------------------------------------------------- signed in

async function startChat() {
  showView('chat-view');
  if (state.started) return;
  state.started = true;
  try {
    state.me = await api('GET', '/users/me');
  } catch {
    if (!state.session) return; // signedOut() already ran
  }
  renderMe();
  await loadChats().catch((error) => toast(errorText(error), 'error'));
  socket.start();
}

function renderMe() {
  if (!state.me) return;
  state.names.set(state.me.id, state.me.name);
  slot('me-name').textContent = state.me.name;
  const meAvatar = avatar(state.me.name, state.me.id, { url: state.me.avatarUrl });
  meAvatar.dataset.slot = 'me-avatar';
  meAvatar.title = state.me.email;
  slot('me-avatar').replaceWith(meAvatar);
  show(slot('email-banner'), state.me.emailConfirmed === false);
}

/** Messages written here that the server has not taken yet (waiting, or refused and kept to retry). */
function unsentCount() {
  let count = 0;
  for (const thread of state.threads.values()) count += thread.pending.size;
  return count;
}

async function signOut() {
  const unsent = unsentCount();
  if (
    unsent > 0 &&
    !window.confirm(`${unsent === 1 ? 'A message is' : `${unsent} messages are`} not sent yet, and will be lost. Sign out anyway?`)
  )
    return;
  // What was read in the last second is told first, while the session lasts.
  await flushReads();
  // The socket goes first: the server closes a signed-out session's socket with 4401, which the
  // page would take for an expired token, refresh, fail, and report as a session that ended.
  socket.stop();
  await adoptSharedPair();
  const sessionId = state.sessionId;
  // Not api(): a refresh on the way out would only rotate tokens that are about to die. The
  // refresh token identifies the session should the access token have expired.
  const body = state.session?.refreshToken ? { refreshToken: state.session.refreshToken } : undefined;
  await request('POST', '/auth/sign-out', body).catch(() => undefined);
  forgetCookieSession(); // the answer cleared the browser's cookies, whoever's they were
  await forgetSharedPair(sessionId);
  signedOut();
}

function forgetSession() {
  state.session = null;
  state.sessionId = null;
  try {
    window.sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // nothing saved
  }
}

/** Back to the sign-in form, forgetting everything about the previous user. */
function signedOut(message) {
  // This session ended: if the browser's cookies are its, a new tab need not ask about them.
  if (message && state.sessionId && cookieSessionHint() === state.sessionId) forgetCookieSession();
  resetState();
  // On an email-link page (a password reset ends every session, this one too) the page stays.
  if (isTokenRoute()) return;
  if (message) toast(message, 'error');
  if (location.hash !== '' && location.hash !== '#/') history.replaceState(null, '', '#/');
  showAuth();
}

function isTokenRoute() {
  const { path } = parseHash();
  return path === '/confirm-email' || path === '/reset-password';
}

function resetState() {
  forgetSession();
  socket.stop();
  state.me = null;
  state.chats.clear();
  state.details.clear();
  state.threads.clear();
  for (const report of readReports.values()) clearTimeout(report.timer);
  readReports.clear();
  state.typing.clear();
  state.presence.clear();
  state.avatars.clear();
  state.openChatId = null;
  state.started = false;
  $('[data-testid="chat-list"]').replaceChildren();
  chatNodes.clear();
  slot('message-list').replaceChildren();
}

// ---------------------------------------------------------------- chat list

function lastSeqOf(chat) {
  return Math.max(chat.lastSeq ?? 0, chat.lastMessage?.seq ?? 0);
}

function mergeChat(item) {
  const known = state.chats.get(item.id);
  const merged = { ...known, ...item };
  // A REST answer may be older than a frame we already applied.
  if (known?.lastMessage && (!item.lastMessage || item.lastMessage.seq < known.lastMessage.seq)) merged.lastMessage = known.lastMessage;
  merged.lastSeq = Math.max(lastSeqOf(known ?? {}), item.lastSeq ?? 0, item.lastMessage?.seq ?? 0);
  // Nor may it count as unread what this page has read since it was asked (its mark_read went out,
  // or was lost with a socket that went down: told again, which costs nothing when it had arrived).
  if (merged.unreadCount > 0 && (state.threads.get(item.id)?.myReadSeq ?? 0) >= merged.lastSeq) {
    merged.unreadCount = 0;
    reportRead(item.id);
  }
  if (item.members) {
    rememberMembers(item.id, item.members);
    delete merged.members;
  }
  // A direct chat's other person: their photo and presence show in the list before the chat is
  // opened. Presence frames are newer than any REST answer, so one already applied stays.
  if (item.peer) {
    if (!state.presence.has(item.peer.id)) state.presence.set(item.peer.id, { online: item.peer.online, lastSeenAt: item.peer.lastSeenAt });
    state.avatars.set(item.peer.id, item.peer.avatarUrl);
  }
  merged.mergedAt = Date.now();
  state.chats.set(item.id, merged);
  return merged;
}

async function loadChats() {
  const startedAt = Date.now();
  const seen = new Set();
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const result = await api('GET', `/chats?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const item of result.items) {
      mergeChat(item);
      seen.add(item.id);
    }
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  // Chats gone while we were away (deleted, or we were removed); not one that arrived during the listing.
  for (const [id, chat] of [...state.chats]) if (!seen.has(id) && chat.mergedAt < startedAt) forgetChat(id);
  renderChatList();
}

function forgetChat(id) {
  state.chats.delete(id);
  state.details.delete(id);
  state.threads.delete(id);
  state.typing.delete(id);
  if (state.openChatId === id) {
    toast('That chat is no longer available.');
    location.hash = '#/';
  }
}

function activityOf(chat) {
  return chat.lastMessage?.createdAt ?? chat.updatedAt ?? '';
}

function previewOf(chat) {
  const typers = typingNames(chat.id);
  if (typers) return { text: typers, typing: true };
  const m = chat.lastMessage;
  if (!m) return { text: chat.type === 'group' ? 'Group created' : 'No messages yet' };
  const who = m.senderId === state.me?.id ? 'You: ' : chat.type === 'group' ? `${nameOf(m.senderId)}: ` : '';
  return { text: who + (m.deletedAt ? 'Message deleted' : m.text) };
}

/** One <li> per chat, kept across renders: a click must not land on an element replaced under the pointer. */
const chatNodes = new Map();

function renderChatList() {
  const list = $('[data-testid="chat-list"]');
  const chats = [...state.chats.values()].sort((a, b) => activityOf(b).localeCompare(activityOf(a)));
  for (const [id, node] of chatNodes) {
    if (!state.chats.has(id)) {
      node.remove();
      chatNodes.delete(id);
    }
  }
  let cursor = list.firstChild;
  for (const chat of chats) {
    let node = chatNodes.get(chat.id);
    if (!node) {
      // The item's content is one button: reached with Tab, opened with Enter or Space, announced as a button.
      node = h('li', { dataset: { testid: 'chat-item', chatId: chat.id } }, h('button', { type: 'button', class: 'chat-item-button' }));
      chatNodes.set(chat.id, node);
    }
    const preview = previewOf(chat);
    const other = chat.type === 'direct' ? otherMember(chat.id) : null;
    const sig = JSON.stringify([
      chat.title,
      chat.id === state.openChatId,
      preview,
      chat.unreadCount,
      activityOf(chat),
      isOnline(other),
      other && state.avatars.get(other),
    ]);
    if (node.dataset.sig !== sig) {
      node.dataset.sig = sig;
      node.className = `chat-item${chat.id === state.openChatId ? ' active' : ''}`;
      const button = node.firstChild;
      if (chat.id === state.openChatId) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
      button.replaceChildren(
        // Coloured by the person for a direct chat, as everywhere else they appear.
        avatar(chat.title, other ?? chat.id, {
          group: chat.type === 'group',
          online: isOnline(other),
          url: other && state.avatars.get(other),
        }),
        // Spans, not divs: a button holds phrasing content only.
        h(
          'span',
          { class: 'body' },
          h(
            'span',
            { class: 'line' },
            h('span', { class: 'title', dir: 'auto', text: chat.title }),
            h('span', { class: 'time', text: shortTime(activityOf(chat)) }),
          ),
          h(
            'span',
            { class: 'line' },
            h('span', {
              class: `preview${preview.typing ? ' is-typing' : ''}`,
              dir: 'auto',
              dataset: { testid: 'chat-preview' },
              text: preview.text,
            }),
            chat.unreadCount > 0 &&
              h('span', {
                class: 'badge',
                'aria-label': `${chat.unreadCount} unread`,
                dataset: { testid: 'unread-badge' },
                text: chat.unreadCount > 99 ? '99+' : chat.unreadCount,
              }),
          ),
        ),
      );
    }
    if (node !== cursor) list.insertBefore(node, cursor);
    else cursor = cursor.nextSibling;
  }
  show(slot('empty-list'), chats.length === 0);
  const unread = chats.reduce((n, c) => n + (c.unreadCount > 0 ? 1 : 0), 0);
  document.title = `${unread ? `(${unread}) ` : ''}Parley`;
}

// ---------------------------------------------------------------- people and members

function rememberMembers(chatId, members) {
  const detail = state.details.get(chatId) ?? { members: new Map(), seenSeq: 0 };
  detail.members = new Map(
    members.map((m) => [m.userId, { ...m, lastReadSeq: Math.max(m.lastReadSeq ?? 0, detail.members.get(m.userId)?.lastReadSeq ?? 0) }]),
  );
  for (const m of members) {
    state.names.set(m.userId, m.name);
    if (m.avatarUrl !== undefined) state.avatars.set(m.userId, m.avatarUrl);
  }
  state.details.set(chatId, detail);
  return detail;
}

const nameRequests = new Set();

function nameOf(userId) {
  if (userId === state.me?.id) return 'You';
  const name = state.names.get(userId);
  if (name) return name;
  // Someone not in any member list we hold (a chat not opened yet, or a former member): ask once.
  if (userId && !nameRequests.has(userId)) {
    nameRequests.add(userId);
    api('GET', `/users/${userId}`)
      .then((user) => {
        state.names.set(user.id, user.name);
        renderChatList();
        if (state.openChatId) renderThread();
      })
      .catch(() => undefined);
  }
  return 'Someone';
}

function otherMember(chatId) {
  const detail = state.details.get(chatId);
  if (!detail) return state.chats.get(chatId)?.peer?.id ?? null;
  for (const id of detail.members.keys()) if (id !== state.me?.id) return id;
  return null;
}

async function loadDetail(chatId) {
  const askedAt = Date.now();
  const detail = await api('GET', `/chats/${chatId}`);
  mergeChat(detail);
  const other = detail.type === 'direct' ? detail.members.find((m) => m.userId !== state.me?.id) : null;
  // Known before the members below: a server whose chats carry no peer says when they were last seen only there.
  const unknown = other && !state.presence.has(other.userId);
  // Who is online, as the answer says: unless a presence frame heard since it was asked says otherwise.
  for (const m of detail.members) {
    const known = state.presence.get(m.userId);
    if (m.online === undefined || known?.heardAt >= askedAt) continue;
    const lastSeenAt = m.userId === detail.peer?.id ? detail.peer.lastSeenAt : (known?.lastSeenAt ?? null);
    state.presence.set(m.userId, { online: m.online, lastSeenAt });
  }
  if (unknown) {
    api('GET', `/users/${other.userId}`)
      .then((user) => {
        state.presence.set(user.id, { online: user.online, lastSeenAt: user.lastSeenAt });
        state.avatars.set(user.id, user.avatarUrl);
        renderPaneHead();
        renderChatList();
      })
      .catch(() => undefined);
  }
  return state.details.get(chatId);
}

async function searchUsers(query) {
  const result = await api('GET', `/users?query=${encodeURIComponent(query)}&limit=8`);
  const users = result.items.filter((u) => u.id !== state.me?.id);
  for (const u of users) {
    state.names.set(u.id, u.name);
    state.presence.set(u.id, { online: u.online, lastSeenAt: u.lastSeenAt });
    state.avatars.set(u.id, u.avatarUrl);
  }
  return users;
}

function userRow(user, onpick) {
  return h(
    'li',
    { dataset: { testid: 'user-result', userId: user.id }, onmousedown: (e) => e.preventDefault(), onclick: () => onpick(user) },
    avatar(user.name, user.id, { online: user.online, url: user.avatarUrl }),
    h('span', { text: user.name }),
  );
}

function bindUserSearch() {
  const input = $('[data-testid="user-search"]');
  const results = $('[data-testid="user-search-results"]');
  let latest = 0;
  let found = [];
  const close = () => {
    show(results, false);
    results.replaceChildren();
  };
  const pick = async (user) => {
    input.value = '';
    close();
    try {
      const chat = await api('POST', '/chats', { type: 'direct', userId: user.id });
      mergeChat(chat);
      renderChatList();
      location.hash = `#/chat/${chat.id}`;
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  const run = debounce(async () => {
    const query = input.value.trim();
    const ticket = ++latest;
    if (!query) return close();
    try {
      found = await searchUsers(query);
    } catch (error) {
      found = [];
      toast(errorText(error), 'error');
    }
    if (ticket !== latest) return;
    results.replaceChildren(
      ...(found.length
        ? found.map((u) => userRow(u, pick))
        : [h('li', { class: 'none', text: 'Nobody found: try the start of a name, or a whole email address' })]),
    );
    show(results);
  }, 200);
  input.addEventListener('input', run);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      input.value = '';
      close();
    } else if (event.key === 'Enter' && found[0] && !results.hidden) pick(found[0]);
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
}

function bindGroupDialog() {
  const dialog = document.getElementById('group-dialog');
  const form = document.getElementById('group-form');
  const search = form.elements['member-search'];
  const results = slot('group-results');
  const chips = slot('group-chips');
  const picked = new Map();
  const renderChips = () =>
    chips.replaceChildren(
      ...[...picked.values()].map((u) =>
        h(
          'li',
          {},
          u.name,
          h('button', { type: 'button', 'aria-label': `Remove ${u.name}`, text: '×', onclick: () => (picked.delete(u.id), renderChips()) }),
        ),
      ),
    );
  const run = debounce(async () => {
    const query = search.value.trim();
    if (!query) return results.replaceChildren();
    const users = await searchUsers(query).catch(() => []);
    results.replaceChildren(
      ...users
        .filter((u) => !picked.has(u.id))
        .map((u) =>
          userRow(u, (user) => {
            picked.set(user.id, user);
            search.value = '';
            results.replaceChildren();
            renderChips();
            search.focus();
          }),
        ),
    );
  }, 200);
  search.addEventListener('input', run);
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      $('li', results)?.click();
    }
  });
  // Enter in the title goes on to the people to add while none are picked: a group made then would
  // have nobody else in it. With people picked it creates the group, as the button does.
  form.elements.title.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.isComposing && picked.size === 0) {
      event.preventDefault();
      search.focus();
    }
  });

  $('[data-action="new-group"]').addEventListener('click', () => {
    form.reset();
    picked.clear();
    renderChips();
    results.replaceChildren();
    formError(form, null);
    dialog.showModal();
  });
  $('[data-action="close-dialog"]', form).addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError(form, null);
    try {
      const chat = await busy(form, () =>
        api('POST', '/chats', { type: 'group', title: String(form.elements.title.value).trim(), memberIds: [...picked.keys()] }),
      );
      dialog.close();
      mergeChat(chat);
      renderChatList();
      location.hash = `#/chat/${chat.id}`;
    } catch (error) {
      formError(form, error.code === 'CHAT_TITLE_TAKEN' ? 'You already own a group with that title.' : errorText(error));
    }
  });
}

// ---------------------------------------------------------------- profile and chat info

function bindProfileDialog() {
  const dialog = document.getElementById('profile-dialog');
  const nameForm = document.getElementById('name-form');
  const error = $('.form-error', dialog);
  const attempt = async (work) => {
    show(error, false);
    try {
      await work();
    } catch (e) {
      if (e.status === 401) return; // signed out: the page says so already
      error.textContent = errorText(e);
      show(error);
    }
  };
  const renderProfile = () => {
    const node = avatar(state.me.name, state.me.id, { url: state.me.avatarUrl });
    node.classList.add('large');
    node.dataset.slot = 'profile-avatar';
    slot('profile-avatar').replaceWith(node);
    show($('[data-action="remove-avatar"]', dialog), Boolean(state.me.avatarUrl));
  };
  const renderSessions = () =>
    attempt(async () => {
      const sessions = await api('GET', '/auth/sessions');
      // This tab's first, the others as the server lists them (last used first).
      sessions.sort((a, b) => Number(b.current) - Number(a.current));
      const rows = sessions.map((session) => ({
        session,
        device: deviceOf(session.userAgent),
        meta: `${session.ip ?? 'unknown address'} · signed in ${sessionTime.format(new Date(session.createdAt))} · used ${relativeTime(session.lastUsedAt)}`,
      }));
      // Two sign-ins from one kind of browser in the same second still read alike: their ids tell them apart.
      const alike = (row) => rows.filter((other) => other.device === row.device && other.meta === row.meta).length > 1;
      for (const row of rows.filter(alike)) row.meta += ` · #${row.session.id.slice(0, 8)}`;
      slot('sessions').replaceChildren(
        ...rows.map(({ session, device, meta }) =>
          h(
            'li',
            { dataset: { testid: 'session', current: String(Boolean(session.current)) } },
            h(
              'span',
              { class: 'grow session', title: `${session.userAgent ?? 'No user agent'}\nSession ${session.id}` },
              h('span', { class: 'session-device' }, device, session.current && h('span', { class: 'tag', text: 'This tab' })),
              h('span', { class: 'session-meta muted', text: meta }),
            ),
            session.current
              ? null
              : h('button', {
                  type: 'button',
                  class: 'ghost danger',
                  text: 'Sign out',
                  dataset: { testid: 'session-revoke' },
                  onclick: () =>
                    attempt(async () => {
                      await api('DELETE', `/auth/sessions/${session.id}`);
                      await renderSessions();
                    }),
                }),
          ),
        ),
      );
    });
  const saved = (me) => {
    state.me = me;
    renderMe();
    renderProfile();
  };

  $('[data-action="profile"]').addEventListener('click', () => {
    if (!state.me) return;
    show(error, false);
    nameForm.elements.name.value = state.me.name;
    renderProfile();
    slot('sessions').replaceChildren();
    renderSessions();
    dialog.showModal();
  });
  $('[data-action="close-dialog"]', dialog).addEventListener('click', () => dialog.close());
  nameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      saved(await busy(nameForm, () => api('PATCH', '/users/me', { name: String(nameForm.elements.name.value).trim() })));
      toast('Name saved.');
    });
  });
  $('[data-testid="avatar-file"]', dialog).addEventListener('change', (event) => {
    const file = event.target.files?.[0];
    event.target.value = '';
    if (!file) return;
    const body = new FormData();
    body.append('file', file);
    attempt(async () => saved(await api('PUT', '/users/me/avatar', body)));
  });
  $('[data-action="remove-avatar"]', dialog).addEventListener('click', () =>
    attempt(async () => {
      await api('DELETE', '/users/me/avatar');
      saved(Object.assign({}, state.me, { avatarUrl: null }));
    }),
  );
}

const sessionTime = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** "Chrome on Linux", "Node.js": the browser, and the system when the user agent names one. */
function deviceOf(userAgent) {
  const system = systemOf(userAgent);
  return system ? `${browserOf(userAgent)} on ${system}` : browserOf(userAgent);
}

function systemOf(userAgent) {
  const ua = String(userAgent ?? '');
  const known = [
    [/Android/, 'Android'],
    [/iPhone|iPad|iPod/, 'iOS'],
    [/CrOS/, 'ChromeOS'],
    [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux/, 'Linux'],
  ];
  for (const [pattern, name] of known) if (pattern.test(ua)) return name;
  return null;
}

/** "Chrome", "Firefox"… from a user agent string; the whole string is the row's tooltip. */
function browserOf(userAgent) {
  const ua = String(userAgent ?? '');
  const known = [
    [/Edg\//, 'Edge'],
    [/Firefox\//, 'Firefox'],
    [/Chrom(e|ium)\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/curl\//, 'curl'],
    [/node|undici/i, 'Node.js'],
  ];
  for (const [pattern, name] of known) if (pattern.test(ua)) return name;
  return ua ? ua.slice(0, 40) : 'Unknown client';
}

/** Re-renders the chat info dialog if it is open on this chat (after member and title changes). */
let renderChatInfo = () => undefined;

function bindChatInfoDialog() {
  const dialog = document.getElementById('chat-info-dialog');
  const renameForm = document.getElementById('rename-form');
  const error = $('.form-error', dialog);
  const search = $('[data-testid="info-add-search"]', dialog);
  const results = slot('info-add-results');
  let chatId = null;

  const reload = async () => {
    await loadDetail(chatId);
    render();
  };
  const act = async (work, after = reload) => {
    show(error, false);
    try {
      await work();
      await after();
    } catch (e) {
      if (e.status === 401) return;
      error.textContent = errorText(e);
      show(error);
    }
  };
  const render = () => {
    const chat = state.chats.get(chatId);
    const detail = state.details.get(chatId);
    if (!chat || !detail || !state.me) {
      if (dialog.open) dialog.close();
      return;
    }
    const myRole = detail.members.get(state.me.id)?.role;
    const group = chat.type === 'group';
    const manager = group && (myRole === 'owner' || myRole === 'admin');
    slot('info-title').textContent = chat.title;
    if (document.activeElement !== renameForm.elements.title) renameForm.elements.title.value = chat.title;
    show(renameForm, manager);
    show(slot('info-add'), manager);
    show($('[data-action="leave-chat"]', dialog), group);
    show($('[data-action="delete-chat"]', dialog), group && myRole === 'owner');
    const members = [...detail.members.values()];
    slot('info-members-head').textContent = memberCount(members.length);
    slot('info-members').replaceChildren(...members.map((m) => memberRow(m, myRole, group)));
  };
  const memberRow = (m, myRole, group) => {
    const me = m.userId === state.me.id;
    const buttons = [];
    if (group && !me && myRole === 'owner' && m.role !== 'owner') {
      const role = m.role === 'admin' ? 'member' : 'admin';
      buttons.push(
        h('button', {
          type: 'button',
          class: 'ghost',
          text: role === 'admin' ? 'Make admin' : 'Make member',
          dataset: { testid: 'info-role' },
          onclick: () => act(() => api('PATCH', `/chats/${chatId}/members/${m.userId}`, { role })),
        }),
      );
    }
    if (group && !me && (myRole === 'owner' || myRole === 'admin') && m.role !== 'owner') {
      buttons.push(
        h('button', {
          type: 'button',
          class: 'ghost danger',
          text: 'Remove',
          dataset: { testid: 'info-remove' },
          onclick: () => {
            // A click away from "Make admin": asked first, as leaving and deleting are.
            if (!window.confirm(`Remove ${m.name} from this group? They will no longer see its messages.`)) return;
            // The button goes with its row: the keyboard's focus goes to the search for adding people, not to the page.
            act(
              () => api('DELETE', `/chats/${chatId}/members/${m.userId}`),
              async () => {
                await reload();
                if (dialog.open && !dialog.contains(document.activeElement)) search.focus();
              },
            );
          },
        }),
      );
    }
    return h(
      'li',
      { dataset: { testid: 'info-member', userId: m.userId } },
      avatar(m.name, m.userId, { online: isOnline(m.userId), url: state.avatars.get(m.userId) }),
      h('span', { class: 'grow', text: me ? `${m.name} (you)` : m.name }),
      h('span', { class: 'muted', text: m.role }),
      ...buttons,
    );
  };
  const gone = async () => {
    dialog.close();
    forgetChat(chatId);
    renderChatList();
    location.hash = '#/';
  };

  renderChatInfo = (changed) => {
    if (dialog.open && changed === chatId) render();
  };
  $('[data-action="chat-info"]').addEventListener('click', async () => {
    chatId = state.openChatId;
    if (!chatId) return;
    show(error, false);
    search.value = '';
    results.replaceChildren();
    await act(
      () => loadDetail(chatId),
      async () => render(),
    );
    if (state.details.has(chatId) && !dialog.open) dialog.showModal();
  });
  $('[data-action="close-dialog"]', dialog).addEventListener('click', () => dialog.close());
  renameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => mergeChat(await api('PATCH', `/chats/${chatId}`, { title: String(renameForm.elements.title.value).trim() })));
  });
  $('[data-action="leave-chat"]', dialog).addEventListener('click', () => {
    if (!window.confirm('Leave this group? You will no longer see its messages.')) return;
    act(() => api('DELETE', `/chats/${chatId}/members/${state.me.id}`), gone);
  });
  $('[data-action="delete-chat"]', dialog).addEventListener('click', () => {
    if (!window.confirm('Delete this group and all its messages, for everyone?')) return;
    act(() => api('DELETE', `/chats/${chatId}`), gone);
  });
  const run = debounce(async () => {
    const query = search.value.trim();
    if (!query) return results.replaceChildren();
    const members = state.details.get(chatId)?.members ?? new Map();
    const users = await searchUsers(query).catch(() => []);
    results.replaceChildren(
      ...users
        .filter((u) => !members.has(u.id))
        .map((u) =>
          userRow(u, (user) => {
            search.value = '';
            results.replaceChildren();
            act(() => api('POST', `/chats/${chatId}/members`, { userIds: [user.id] }));
          }),
        ),
    );
  }, 200);
  search.addEventListener('input', run);
}

// ---------------------------------------------------------------- message pane

function threadOf(chatId) {
  let thread = state.threads.get(chatId);
  if (!thread) {
    thread = {
      messages: new Map(),
      pending: new Map(),
      oldest: null,
      hasMore: true,
      loaded: false,
      loading: false,
      myReadSeq: 0,
      /** Every seq from the oldest loaded up to this one is here. seq has no holes, so anything above it after a gap was missed. */
      top: 0,
      filling: false,
      refill: false,
      /** Loaded before a reconnect: edits and deletes made meanwhile are read again when it is next opened. */
      stale: false,
      editing: null,
      /** What the user has typed into the open editor ({ id, text, start, end }): a redraw of the message (a tick, an edit from elsewhere) refills it from here. */
      editDraft: null,
      /** What was left typed in the composer when another chat was opened, given back when this one is. */
      draft: '',
      /** The first seq after my read pointer as the chat was opened with unread messages (null: none): the "New messages" divider goes above the first message from someone else from there. */
      unreadFrom: null,
      /** The view is still to be brought to that divider, once drawn; the chat counts as read only after. */
      toDivider: false,
      nodes: new Map(),
    };
    state.threads.set(chatId, thread);
  }
  return thread;
}

function storeMessage(thread, m) {
  thread.messages.set(m.seq, m);
  if (m.clientId && m.senderId === state.me?.id) thread.pending.delete(m.clientId);
  while (thread.messages.has(thread.top + 1)) thread.top++;
}

/** A frame arrived past a hole (frames missed while connecting): fetch the hole over REST, oldest first. */
async function fillGap(chatId) {
  const thread = threadOf(chatId);
  if (thread.filling) {
    thread.refill = true;
    return;
  }
  thread.filling = true;
  try {
    do {
      thread.refill = false;
      for (let page = 0; page < 50; page++) {
        const from = thread.top;
        const result = await api('GET', `/chats/${chatId}/messages?limit=100&after=${from}`);
        for (const m of result.items) if (!thread.messages.has(m.seq)) storeMessage(thread, m);
        if (result.nextCursor === null || thread.top === from || !hasGap(thread)) break;
      }
    } while (thread.refill);
  } catch {
    // The next reconnect's sync catches up instead.
  } finally {
    thread.filling = false;
  }
  if (chatId === state.openChatId) renderThread();
}

/**
 * After a reconnect: `sync` brings the messages sent meanwhile, not the edits and deletes of
 * older ones, so the loaded messages (the newest few hundred) are read again and any that
 * changed replaced. Other loaded chats are marked and read again when next opened.
 */
async function recheckLoaded(chatId) {
  const thread = threadOf(chatId);
  thread.stale = false;
  if (!thread.loaded || thread.oldest === null) return;
  let after = Math.max(thread.oldest, thread.top - RECHECK_MAX) - 1;
  try {
    for (let page = 0; page < RECHECK_MAX / 100 && after < thread.top; page++) {
      const result = await api('GET', `/chats/${chatId}/messages?limit=100&after=${after}`);
      for (const m of result.items) {
        const held = thread.messages.get(m.seq);
        if (held && held.id === m.id && (held.text !== m.text || held.editedAt !== m.editedAt || held.deletedAt !== m.deletedAt)) {
          if (newerThan(m, held)) thread.messages.set(m.seq, m);
        }
      }
      if (result.items.length === 0 || result.nextCursor === null) break;
      after = result.items[result.items.length - 1].seq;
    }
  } catch {
    thread.stale = true; // tried again when the chat is next opened
    return;
  }
  if (chatId === state.openChatId) renderThread();
}

function hasGap(thread) {
  for (const seq of thread.messages.keys()) if (seq > thread.top) return true;
  return false;
}

/**
 * Makes `chatId` the open chat at once: the composer belongs to it from here, so what is typed
 * next goes there (a click on the list switches here, before the hash change opens it).
 */
function switchChat(chatId) {
  if (state.openChatId === chatId) return;
  closeChatInfo();
  stopTyping();
  keepDraft();
  state.openChatId = chatId;
  const thread = threadOf(chatId);
  noteUnread(chatId);
  thread.nodes = new Map();
  slot('message-list').replaceChildren();
  slot('history-edge').textContent = '';
  $('[data-testid="composer-input"]').value = thread.draft;
}

/**
 * Where the chat's unread messages begin, noted as it opens, before anything marks it read (the
 * view's first scroll may): the "New messages" divider goes there, and stays while the chat is open.
 */
function noteUnread(chatId) {
  const thread = threadOf(chatId);
  const count = state.chats.get(chatId)?.unreadCount ?? 0;
  const pointer = Math.max(thread.myReadSeq, state.details.get(chatId)?.members.get(state.me?.id)?.lastReadSeq ?? 0);
  // The pointer this page knows can be behind the server's (read on another device while this one
  // was offline: those read frames are not replayed), so where the server's count begins wins when later.
  thread.unreadFrom = count > 0 ? Math.max(pointer + 1, countBackUnread(chatId, thread, count)) : null;
  thread.toDivider = count > 0;
}

/**
 * The seq from which `count` messages are unread, counted back from the newest loaded as the server
 * counts them (from others, not deleted); 0 when the loaded messages do not reach that far back.
 */
function countBackUnread(chatId, thread, count) {
  if (!thread.loaded || thread.oldest === null || thread.top < lastSeqOf(state.chats.get(chatId) ?? {})) return 0;
  let found = 0;
  for (let seq = thread.top; seq >= thread.oldest; seq--) {
    const m = thread.messages.get(seq);
    if (!m) return 0;
    if (m.deletedAt || m.senderId === state.me?.id) continue;
    if (++found === count) return seq;
  }
  return 0;
}

/** The chat opened with unread messages older than any loaded yet: pages go back to them (UNREAD_LOAD_MAX at most). */
function unreadAbove(thread) {
  return thread.toDivider && thread.oldest !== null && thread.oldest > thread.unreadFrom && thread.top - thread.oldest < UNREAD_LOAD_MAX;
}

/**
 * No divider to bring the view to (its messages were deleted, or are further back than
 * UNREAD_LOAD_MAX): the newest message then, or the oldest loaded when unread ones are further back.
 */
function settleUnread(chatId) {
  const thread = threadOf(chatId);
  if (state.openChatId !== chatId || !thread.toDivider || thread.loading || unreadAbove(thread)) return;
  thread.toDivider = false;
  // Scrolled to the top, not drawn again: at the bottom, that would mark them all read. The scroll loads the next page back.
  if (thread.hasMore && thread.oldest !== null && thread.oldest > thread.unreadFrom) $('[data-testid="messages"]').scrollTop = 0;
  else renderThread({ stick: true });
}

/** What is typed in the composer stays with the open chat (in this page's memory) when it is left. */
function keepDraft() {
  const thread = state.threads.get(state.openChatId);
  if (thread) thread.draft = $('[data-testid="composer-input"]').value;
}

/** The composer grows with its text, up to a few lines. */
function fitComposer() {
  const input = $('[data-testid="composer-input"]');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

async function openChat(chatId) {
  const view = document.getElementById('chat-view');
  switchChat(chatId);
  view.classList.add('chat-open');
  show(slot('pane-empty'), false);
  show(slot('pane-chat'));
  fitComposer(); // to the chat's draft, now that the box is shown
  renderChatList();
  renderPaneHead();
  renderTyping();
  const thread = threadOf(chatId);
  // A history loaded before shows at once (at its first unread message, or its newest) while the detail is asked again.
  if (thread.loaded) renderThread({ stick: true });
  try {
    await loadDetail(chatId);
  } catch (error) {
    if (error.status === 404) {
      forgetChat(chatId);
      renderChatList();
      toast('That chat does not exist or you are not in it.', 'error');
      location.hash = '#/';
      return;
    }
    toast(errorText(error), 'error');
  }
  if (state.openChatId !== chatId) return;
  renderChatList();
  renderPaneHead();
  // A thread loaded earlier was kept current by live frames (and by sync after a reconnect),
  // except for edits and deletes missed while disconnected (stale): those are read again.
  if (!thread.loaded) {
    // Nothing of it was held to mark read meanwhile, and the detail has just said where my read pointer is.
    noteUnread(chatId);
    await loadOlder(chatId, { initial: true });
  } else {
    renderThread(); // its ticks, from the read pointers just read
    if (thread.stale) await recheckLoaded(chatId);
    if (unreadAbove(thread)) await loadOlder(chatId);
    settleUnread(chatId);
  }
  requestAnimationFrame(() => $('[data-testid="composer-input"]').focus());
}

/** The chat info dialog is about the open chat: it closes when another opens, or none. */
function closeChatInfo() {
  const dialog = document.getElementById('chat-info-dialog');
  if (dialog.open) dialog.close();
}

function closeChat() {
  closeChatInfo();
  stopTyping();
  keepDraft();
  const was = state.openChatId;
  // Focus in the pane about to hide (Back, on a narrow screen) goes to the chat it left, not to the page.
  const hadFocus = slot('pane-chat').contains(document.activeElement);
  state.openChatId = null;
  document.getElementById('chat-view').classList.remove('chat-open');
  show(slot('pane-empty'));
  show(slot('pane-chat'), false);
  renderChatList();
  if (hadFocus && was) chatNodes.get(was)?.firstChild?.focus();
}

const memberCount = (n) => `${n} ${n === 1 ? 'member' : 'members'}`;

/** Online as last heard, while this page is connected to hear it; unknown (shown as not online) otherwise. */
function isOnline(userId) {
  return Boolean(userId && socket.ready && state.presence.get(userId)?.online);
}

function renderPaneHead() {
  const chat = state.chats.get(state.openChatId);
  if (!chat) return;
  slot('chat-title').textContent = chat.title;
  const detail = state.details.get(chat.id);
  let subtitle = '';
  if (chat.type === 'direct') {
    const presence = state.presence.get(otherMember(chat.id));
    subtitle = !presence
      ? ''
      : isOnline(otherMember(chat.id))
        ? 'online'
        : presence.lastSeenAt
          ? `last seen ${relativeTime(presence.lastSeenAt)}`
          : 'offline';
  } else if (detail) {
    const names = [...detail.members.values()].map((m) => (m.userId === state.me?.id ? 'you' : m.name));
    subtitle = `${memberCount(detail.members.size)}: ${names.join(', ')}`;
  } else subtitle = memberCount(chat.memberCount);
  slot('chat-subtitle').textContent = subtitle;
}

async function loadOlder(chatId, { initial = false } = {}) {
  const thread = threadOf(chatId);
  if (thread.loading || (!initial && (!thread.loaded || !thread.hasMore || thread.oldest === null))) return;
  thread.loading = true;
  const edge = slot('history-edge');
  if (state.openChatId === chatId) edge.textContent = 'Loading…';
  let loaded = false;
  try {
    const before = initial ? '' : `&before=${thread.oldest}`;
    // Back to the first unread message, in pages as large as the server gives.
    const limit = !initial && unreadAbove(thread) ? 100 : PAGE_SIZE;
    const page = await api('GET', `/chats/${chatId}/messages?limit=${limit}${before}`);
    for (const m of page.items) if (!thread.messages.has(m.seq)) thread.messages.set(m.seq, m);
    if (initial) {
      // The newest page is contiguous: it sets where live frames must continue from.
      thread.top = Math.max(thread.top, ...page.items.map((m) => m.seq));
      while (thread.messages.has(thread.top + 1)) thread.top++;
      if (hasGap(thread)) fillGap(chatId);
    }
    thread.hasMore = page.nextCursor !== null && page.items.length > 0;
    // The next page is older than this one, not than everything the thread holds: the loaded
    // range runs unbroken from here up to `top`.
    if (page.items.length) thread.oldest = Math.min(...page.items.map((m) => m.seq));
    thread.loaded = true;
    loaded = true;
  } catch (error) {
    toast(errorText(error), 'error');
    // No further back for now: the view stays where it is, and reading to the bottom marks the chat read.
    thread.toDivider = false;
  } finally {
    thread.loading = false;
  }
  if (state.openChatId !== chatId) return;
  renderThread(initial ? { stick: true } : { keepPosition: true });
  // Keep paging while the history does not yet fill the pane (nothing to scroll means no scroll
  // event), and, as the chat opens, until its first unread message is loaded. Not after a failure.
  const box = $('[data-testid="messages"]');
  if (loaded && thread.hasMore && (box.scrollHeight <= box.clientHeight + 10 || unreadAbove(thread))) await loadOlder(chatId);
  settleUnread(chatId);
}

/** Where one of my messages stands: pending, sent, read by someone, or seen by every other member. */
function tickStatus(chatId, m) {
  const detail = state.details.get(chatId);
  if (!detail) return 'sent';
  const others = [...detail.members.values()].filter((x) => x.userId !== state.me?.id);
  // Someone added after the message was never sent it: their pointer starts past it, unread by them.
  const readers = others.filter((x) => x.lastReadSeq >= m.seq && (x.joinedSeq ?? 0) < m.seq).length;
  const recipients = others.filter((x) => (x.joinedSeq ?? 0) < m.seq);
  if (detail.seenSeq >= m.seq || (recipients.length > 0 && readers === recipients.length)) return 'seen';
  return readers > 0 ? 'read' : 'sent';
}

const TICKS = {
  pending: ['🕓', 'Sending…'],
  failed: ['!', 'Not sent: click to retry or remove'],
  sent: ['✓', 'Sent'],
  read: ['✓✓', 'Read by some members'],
  seen: ['✓✓', 'Seen'],
};

function messageItems(chatId) {
  const thread = threadOf(chatId);
  const sorted = [...thread.messages.values()].sort((a, b) => a.seq - b.seq);
  const items = sorted.map((m) => ({ key: m.clientId ? `c:${m.clientId}` : `s:${m.seq}`, m, own: m.senderId === state.me?.id }));
  const acked = new Set(items.map((i) => i.key));
  for (const p of thread.pending.values()) {
    const key = `c:${p.clientId}`;
    if (!acked.has(key)) items.push({ key, m: { ...p, senderId: state.me?.id, seq: Infinity }, own: true, pending: p });
  }
  return items;
}

function renderThread({ stick = false, keepPosition = false } = {}) {
  const chatId = state.openChatId;
  if (!chatId) return;
  const thread = threadOf(chatId);
  const chat = state.chats.get(chatId);
  const box = $('[data-testid="messages"]');
  const list = slot('message-list');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const heightBefore = box.scrollHeight;
  const topBefore = box.scrollTop;

  slot('history-edge').textContent = thread.loading
    ? 'Loading…'
    : thread.hasMore
      ? ''
      : thread.messages.size || thread.pending.size
        ? 'This is the beginning of the chat.'
        : 'No messages yet. Say hello!';

  const items = messageItems(chatId);
  // Once every message from the read pointer on is loaded, the divider goes above the first of them that counts as unread.
  const from = thread.unreadFrom;
  const dividerSeq =
    from !== null && (!thread.hasMore || (thread.oldest !== null && thread.oldest <= from))
      ? items.find((i) => !i.own && !i.pending && !i.m.deletedAt && i.m.seq >= from)?.m.seq
      : undefined;
  const wanted = [];
  let previous = null;
  let lastDay = null;
  for (const item of items) {
    const day = dayKey(item.m.createdAt);
    if (day !== lastDay) {
      wanted.push({
        key: `d:${day}`,
        sig: dayLabel(item.m.createdAt),
        build: () => h('li', { class: 'day', text: dayLabel(item.m.createdAt) }),
      });
      lastDay = day;
      previous = null;
    }
    if (item.m.seq === dividerSeq) {
      wanted.push({
        key: 'unread',
        sig: 'unread',
        build: () => h('li', { class: 'unread-divider', dataset: { testid: 'unread-divider' } }, h('span', { text: 'New messages' })),
      });
      previous = null; // the message below starts a group of its own (in a group chat, with its sender's name)
    }
    const first =
      !previous || previous.senderId !== item.m.senderId || Date.parse(item.m.createdAt) - Date.parse(previous.createdAt) > GROUP_GAP_MS;
    previous = item.m;
    const status = item.pending ? (item.pending.failed ? 'failed' : 'pending') : item.own ? tickStatus(chatId, item.m) : null;
    if (thread.editing === item.m.id && item.m.deletedAt) {
      // Deleted (on another device, or by a reload) while it was being edited: nothing to save.
      thread.editing = null;
      thread.editDraft = null;
      toast('The message you were editing was deleted.', 'error');
    }
    const editing = thread.editing !== null && thread.editing === item.m.id;
    const showSender = first && !item.own && chat?.type === 'group';
    const sig = JSON.stringify([
      item.m.text,
      item.m.deletedAt,
      item.m.editedAt,
      status,
      first,
      showSender && nameOf(item.m.senderId),
      editing,
      item.m.seq,
    ]);
    wanted.push({ key: item.key, sig, build: () => messageNode(chatId, item, { first, status, editing, showSender }) });
  }

  const keep = new Set(wanted.map((w) => w.key));
  for (const [key, node] of thread.nodes) {
    if (!keep.has(key)) {
      node.remove();
      thread.nodes.delete(key);
    }
  }
  let cursor = list.firstChild;
  for (const w of wanted) {
    let node = thread.nodes.get(w.key);
    if (!node || node.dataset.sig !== w.sig) {
      const fresh = w.build();
      fresh.dataset.sig = w.sig;
      if (node) {
        if (node === cursor) cursor = fresh;
        node.replaceWith(fresh);
      }
      node = fresh;
      thread.nodes.set(w.key, node);
    }
    if (node !== cursor) list.insertBefore(node, cursor);
    else cursor = cursor.nextSibling;
  }

  const divider = thread.nodes.get('unread');
  if (thread.toDivider && divider) {
    // Opened with unread messages: the divider at the top of the view, or the newest message if they all fit below it.
    thread.toDivider = false;
    const top = divider.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    box.scrollTop = Math.min(box.scrollHeight, top - DIVIDER_MARGIN_PX);
  } else if (keepPosition) box.scrollTop = topBefore + (box.scrollHeight - heightBefore);
  else if (stick || atBottom) box.scrollTop = box.scrollHeight;
  markReadIfSeen();
}

function messageNode(chatId, { m, own, pending }, { first, status, editing, showSender }) {
  const deleted = Boolean(m.deletedAt);
  const classes = ['msg', own && 'own', first && 'first', deleted && 'deleted', pending && 'pending', pending?.failed && 'failed']
    .filter(Boolean)
    .join(' ');
  const meta = h(
    'span',
    { class: 'meta' },
    m.editedAt && !deleted ? 'edited · ' : '',
    h('time', { datetime: m.createdAt, title: new Date(m.createdAt).toLocaleString(), text: timeFormat.format(new Date(m.createdAt)) }),
    status && h('span', { class: 'tick', dataset: { testid: 'tick', status }, title: TICKS[status][1], text: TICKS[status][0] }),
  );
  let body;
  if (editing) body = editForm(chatId, m);
  else
    body = h(
      'div',
      { class: 'bubble' },
      h('span', { class: 'text', dir: 'auto', dataset: { testid: 'message-text' }, text: deleted ? 'This message was deleted' : m.text }),
      meta,
    );

  const actions =
    own && !deleted && !pending && !editing
      ? h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', text: 'Edit', dataset: { testid: 'message-edit' }, onclick: () => startEdit(chatId, m.id) }),
          h('button', { type: 'button', text: 'Delete', dataset: { testid: 'message-delete' }, onclick: () => deleteMessage(chatId, m) }),
        )
      : null;
  return h(
    'li',
    {
      class: classes,
      dataset: {
        testid: 'message',
        seq: Number.isFinite(m.seq) ? m.seq : '',
        own: own ? 'true' : 'false',
        clientId: m.clientId ?? '',
        // The tick's state, also while the editor stands in for the bubble and its tick.
        status: status ?? '',
      },
      onclick: pending?.failed ? () => retrySend(chatId, pending.clientId) : undefined,
    },
    showSender && h('span', { class: 'sender', text: nameOf(m.senderId) }),
    body,
    actions,
  );
}

/** Enter sends (or saves) on a desktop, Shift+Enter being the new line; on a touch screen Enter is the new line. */
function enterSends(event) {
  return event.key === 'Enter' && !event.shiftKey && !event.isComposing && !coarsePointer.matches;
}

function editForm(chatId, m) {
  const area = h('textarea', { rows: 2, 'aria-label': 'Edit message', dataset: { testid: 'message-edit-input' } });
  const thread = threadOf(chatId);
  const draft = thread.editDraft?.id === m.id ? thread.editDraft : null;
  area.value = draft ? draft.text : (m.text ?? '');
  const keepDraft = () => (thread.editDraft = { id: m.id, text: area.value, start: area.selectionStart, end: area.selectionEnd });
  area.addEventListener('input', keepDraft);
  area.addEventListener('select', keepDraft);
  area.addEventListener('keyup', keepDraft);
  area.addEventListener('click', keepDraft);
  const save = async () => {
    const text = area.value;
    if (!hasVisibleText(text)) return toast('A message cannot be empty: delete it instead.', 'error');
    if (tooLong(text)) return toast(`A message holds at most ${MESSAGE_MAX} characters; this one has ${lengthOf(text)}.`, 'error');
    try {
      const updated = await api('PATCH', `/chats/${chatId}/messages/${m.id}`, { text });
      applyUpdated(updated);
    } catch (error) {
      toast(errorText(error), 'error');
      // The editor stays open with what was typed, to save again or cancel; unless saving again
      // cannot help (the message is gone, or it is no longer mine to edit).
      if (!(error instanceof ApiError && [403, 404].includes(error.status))) return;
    }
    thread.editing = null;
    thread.editDraft = null;
    renderThread();
  };
  const cancel = () => {
    thread.editing = null;
    thread.editDraft = null;
    renderThread();
  };
  area.addEventListener('keydown', (event) => {
    if (enterSends(event)) {
      event.preventDefault();
      save();
    } else if (event.key === 'Escape') cancel();
  });
  requestAnimationFrame(() => {
    area.focus();
    if (draft) area.setSelectionRange(draft.start, draft.end);
    else area.setSelectionRange(area.value.length, area.value.length);
  });
  return h(
    'div',
    { class: 'edit-form' },
    area,
    h(
      'div',
      { class: 'row end' },
      h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: cancel }),
      h('button', { type: 'button', class: 'primary', text: 'Save', onclick: save }),
    ),
  );
}

function startEdit(chatId, id) {
  threadOf(chatId).editing = id;
  threadOf(chatId).editDraft = null;
  renderThread();
}

async function deleteMessage(chatId, m) {
  if (!window.confirm('Delete this message for everyone?')) return;
  try {
    await api('DELETE', `/chats/${chatId}/messages/${m.id}`);
    applyDeleted({ chatId, id: m.id, seq: m.seq });
  } catch (error) {
    toast(errorText(error), 'error');
  }
}

// ---------------------------------------------------------------- sending, typing, reading

/** The server's rule (visible-text.ts): something a font draws, not only spaces, controls or invisible marks. */
function hasVisibleText(text) {
  return /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{M}\p{Noncharacter_Code_Point}\u2800\uFFFC]/u.test(text);
}

function sendText(text) {
  const chatId = state.openChatId;
  if (!chatId) return; // the composer has checked the text
  const pending = { clientId: uuid(), chatId, text, createdAt: new Date().toISOString(), failed: false };
  threadOf(chatId).pending.set(pending.clientId, pending);
  // The message itself clears the indicator on the other side: no "stopped typing" frame for it,
  // and the next keystroke says "typing" afresh.
  stopTyping({ quietly: true });
  renderThread({ stick: true });
  transmit(pending);
}

/** Sent now when connected; otherwise it waits, marked pending, and goes out on reconnect (the clientId makes that safe to repeat). */
function transmit(pending) {
  if (socket.ready)
    socket.send({ type: 'send_message', id: pending.clientId, chatId: pending.chatId, text: pending.text, clientId: pending.clientId });
}

function retrySend(chatId, clientId) {
  const pending = threadOf(chatId).pending.get(clientId);
  if (!pending) return;
  // A refusal that would come again (too long, not a member…) need not stay on screen for ever.
  if (!window.confirm('Send this message again? (Cancel removes it.)')) {
    threadOf(chatId).pending.delete(clientId);
    renderThread();
    return;
  }
  pending.failed = false;
  renderThread();
  transmit(pending);
}

const typingOut = { chatId: null, sentAt: 0, idle: null, tokens: TYPING_BURST, filledAt: 0 };

/** A typing frame, if this page has not sent too many lately (an indicator is not worth a refusal). */
function sendTyping(chatId, isTyping) {
  const now = Date.now();
  typingOut.tokens = Math.min(TYPING_BURST, typingOut.tokens + ((now - typingOut.filledAt) / 1000) * TYPING_PER_SECOND);
  typingOut.filledAt = now;
  if (typingOut.tokens < 1) return false;
  typingOut.tokens -= 1;
  socket.send({ type: 'typing', id: TYPING_FRAME_ID, chatId, isTyping });
  return true;
}

function noteTyping() {
  const chatId = state.openChatId;
  if (!chatId || !socket.ready) return;
  const now = Date.now();
  if ((typingOut.chatId !== chatId || now - typingOut.sentAt > TYPING_SEND_EVERY_MS) && sendTyping(chatId, true)) {
    typingOut.chatId = chatId;
    typingOut.sentAt = now;
  }
  clearTimeout(typingOut.idle);
  typingOut.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping({ quietly = false } = {}) {
  clearTimeout(typingOut.idle);
  if (typingOut.chatId && socket.ready && !quietly) sendTyping(typingOut.chatId, false);
  typingOut.chatId = null;
  typingOut.sentAt = 0;
}

function typingNames(chatId) {
  const people = state.typing.get(chatId);
  if (!people?.size) return '';
  const names = [...people.keys()].map((id) => nameOf(id));
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

function renderTyping() {
  $('[data-testid="typing-indicator"]').textContent = state.openChatId ? typingNames(state.openChatId) : '';
}

function setTyping(chatId, userId, isTyping) {
  if (userId === state.me?.id) return;
  let people = state.typing.get(chatId);
  if (!people) state.typing.set(chatId, (people = new Map()));
  clearTimeout(people.get(userId));
  if (isTyping) {
    // A lost "stopped typing" frame must not leave the indicator on for ever.
    people.set(
      userId,
      setTimeout(() => setTyping(chatId, userId, false), TYPING_SHOW_MS),
    );
  } else people.delete(userId);
  renderTyping();
  renderChatList();
}

/** The open chat counts as read when the page is visible and scrolled to its newest message. */
function markReadIfSeen() {
  const chatId = state.openChatId;
  if (!chatId || document.visibilityState !== 'visible') return;
  const box = $('[data-testid="messages"]');
  if (box.scrollHeight - box.scrollTop - box.clientHeight > 60) return;
  const thread = threadOf(chatId);
  // Still on the way to the first unread message: the newest, shown meanwhile, is not read yet.
  if (thread.toDivider) return;
  const seq = thread.top;
  if (seq <= thread.myReadSeq) return;
  thread.myReadSeq = seq;
  const chat = state.chats.get(chatId);
  if (chat && seq >= lastSeqOf(chat) && chat.unreadCount) {
    chat.unreadCount = 0;
    renderChatList();
  }
  reportRead(chatId);
}

/** chatId → { sentAt, timer }: when the chat's read pointer was last told to the server, and the report waiting for its turn. */
const readReports = new Map();

/**
 * Tells the server how far this page has read the chat (thread.myReadSeq): at once, or at the end of
 * READ_REPORT_GAP_MS after the last report, then with the newest seq read by then. One message read
 * after another in a busy chat is one report a second, not one each (the server allows
 * RATE_LIMIT_READS_PER_USER a minute, 600 unless set).
 */
function reportRead(chatId, waitMs = 0) {
  const report = readReports.get(chatId) ?? { sentAt: 0, timer: undefined };
  readReports.set(chatId, report);
  if (report.timer) return;
  const wait = Math.max(waitMs, report.sentAt + READ_REPORT_GAP_MS - Date.now());
  if (wait > 0) {
    report.timer = setTimeout(() => {
      report.timer = undefined;
      reportRead(chatId);
    }, wait);
    return;
  }
  const thread = state.threads.get(chatId);
  const seq = thread?.myReadSeq ?? 0;
  if (seq <= 0) return;
  report.sentAt = Date.now();
  if (socket.ready) socket.send({ type: 'mark_read', id: READ_FRAME_PREFIX + chatId, chatId, seq });
  else
    api('POST', `/chats/${chatId}/read`, { seq }).catch((error) => {
      // Too many, or the server busy or restarting: again after the wait, with the newest seq read by then.
      if (error instanceof ApiError && (error.status === 429 || error.status === 503)) reportRead(chatId, (error.retryAfter || 2) * 1000);
      else if (thread.myReadSeq === seq) thread.myReadSeq = 0;
    });
}

/** Sends every read report still waiting for its turn, now (before signing out, or as the page goes away). */
function flushReads({ keepalive = false } = {}) {
  const reports = [];
  for (const [chatId, report] of readReports) {
    if (!report.timer) continue;
    clearTimeout(report.timer);
    report.timer = undefined;
    const seq = state.threads.get(chatId)?.myReadSeq ?? 0;
    if (seq <= 0) continue;
    report.sentAt = Date.now();
    if (!keepalive) {
      reports.push(api('POST', `/chats/${chatId}/read`, { seq }).catch(() => undefined));
      continue;
    }
    // The page is going: a request that outlives it, with this tab's token (or its cookie).
    const headers = { 'content-type': 'application/json' };
    if (state.session?.accessToken) headers.authorization = `Bearer ${state.session.accessToken}`;
    fetch(`${API}/chats/${chatId}/read`, { method: 'POST', headers, body: JSON.stringify({ seq }), keepalive: true }).catch(
      () => undefined,
    );
  }
  return Promise.all(reports);
}

function bindPane() {
  const input = $('[data-testid="composer-input"]');
  const form = $('[data-testid="composer"]');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (tooLong(input.value)) {
      toast(`A message holds at most ${MESSAGE_MAX} characters; this one has ${lengthOf(input.value)}. Nothing was sent.`, 'error');
      return;
    }
    // Only white space: nothing to send, and nothing to say. Something that draws as nothing is
    // kept, with the reason, as the edit form does.
    if (!hasVisibleText(input.value)) {
      if (input.value.trim()) toast('A message needs something visible: these characters show as nothing.', 'error');
      return;
    }
    sendText(input.value);
    input.value = '';
    fitComposer();
  });
  input.addEventListener('keydown', (event) => {
    if (enterSends(event)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // The on-screen keyboard's Enter key says what it does (a title is not seen on a touch screen).
  const hint = () => {
    input.title = coarsePointer.matches ? 'Enter starts a new line, Send sends' : 'Enter sends, Shift+Enter starts a new line';
    input.enterKeyHint = coarsePointer.matches ? 'enter' : 'send';
  };
  hint();
  coarsePointer.addEventListener('change', hint);
  input.addEventListener('input', () => {
    fitComposer();
    if (hasVisibleText(input.value)) noteTyping();
    else stopTyping();
  });
  input.addEventListener('blur', stopTyping);

  const box = $('[data-testid="messages"]');
  box.addEventListener('scroll', () => {
    if (box.scrollTop < 120 && state.openChatId) loadOlder(state.openChatId);
    markReadIfSeen();
  });
  document.addEventListener('visibilitychange', markReadIfSeen);
  $('[data-action="back"]').addEventListener('click', () => (location.hash = '#/'));
  $('[data-testid="chat-list"]').addEventListener('click', (event) => {
    const item = event.target.closest('[data-chat-id]');
    if (!item) return;
    switchChat(item.dataset.chatId);
    location.hash = `#/chat/${item.dataset.chatId}`;
  });
  $('[data-action="sign-out"]').addEventListener('click', signOut);
  $('[data-action="resend-confirmation"]').addEventListener('click', resendConfirmation);
}

/** A new confirmation email; the server answers 409 when the address was confirmed meanwhile (in another tab, say). */
async function resendConfirmation(event) {
  const button = event.currentTarget;
  button.disabled = true; // a second click would send a second email and make the first one's link dead
  try {
    await api('POST', '/auth/confirm-email/resend');
    toast('We sent you a new email: its link works, older ones no longer do.');
  } catch (error) {
    if (error.status === 401) return; // signed out: the page says so already
    if (error.code !== 'EMAIL_ALREADY_CONFIRMED') return toast(errorText(error), 'error');
    if (state.me) state.me.emailConfirmed = true;
    show(slot('email-banner'), false);
    toast('Your email is already confirmed.');
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- applying events

/** A message from a frame or a REST answer: into its thread (when loaded) and the chat list. */
function applyMessage(m) {
  const chat = state.chats.get(m.chatId);
  if (!chat) {
    // A chat we have not heard of yet (its chat_created may still be on the way).
    loadDetail(m.chatId)
      .then(() => renderChatList())
      .catch(() => undefined);
    return;
  }
  const thread = state.threads.get(m.chatId);
  if (thread) {
    storeMessage(thread, m);
    if (thread.loaded && m.seq > thread.top) fillGap(m.chatId);
  }
  const isNew = m.seq > lastSeqOf(chat);
  if (!chat.lastMessage || m.seq >= chat.lastMessage.seq) chat.lastMessage = m;
  chat.lastSeq = Math.max(lastSeqOf(chat), m.seq);
  if (isNew && m.senderId !== state.me?.id && m.seq > (thread?.myReadSeq ?? 0)) {
    chat.unreadCount = (chat.unreadCount ?? 0) + 1;
    state.typing.get(m.chatId)?.delete(m.senderId);
  }
  // Sending moves the sender's read pointer, and no read frame says so (README): a message of mine
  // (from another device, say) means I have read the chat up to it, one of theirs that they have.
  if (m.senderId === state.me?.id) {
    if (thread) thread.myReadSeq = Math.max(thread.myReadSeq, m.seq);
    if (m.seq >= lastSeqOf(chat)) chat.unreadCount = 0;
  } else {
    const member = state.details.get(m.chatId)?.members.get(m.senderId);
    if (member) member.lastReadSeq = Math.max(member.lastReadSeq ?? 0, m.seq);
  }
  if (m.chatId === state.openChatId) {
    renderThread({ stick: m.senderId === state.me?.id });
    renderTyping();
  }
  renderChatList();
}

/**
 * An edit replaces a message the thread holds, and nothing else: one not loaded yet comes in its
 * edited form with its page, and put in the thread now it would sit alone below a range never loaded.
 */
/**
 * Whether `m` is news about the message held as `held`: a delete is final, and of two edits the
 * later `editedAt` wins. Changes made through different server instances can arrive in either order.
 */
function newerThan(m, held) {
  if (!held || held.id !== m.id) return false;
  if (held.deletedAt) return false;
  if (m.deletedAt) return true;
  return !held.editedAt || (m.editedAt ?? '') >= held.editedAt;
}

function applyUpdated(m) {
  const thread = state.threads.get(m.chatId);
  if (newerThan(m, thread?.messages.get(m.seq))) thread.messages.set(m.seq, m);
  const chat = state.chats.get(m.chatId);
  if (newerThan(m, chat?.lastMessage)) chat.lastMessage = m;
  if (m.chatId === state.openChatId) renderThread();
  renderChatList();
}

function applyDeleted({ chatId, id, seq }) {
  const gone = (m) => ({ ...m, text: null, deletedAt: m.deletedAt ?? new Date().toISOString() });
  const thread = state.threads.get(chatId);
  const chat = state.chats.get(chatId);
  uncountDeleted(chat, thread, { id, seq });
  const m = thread?.messages.get(seq);
  if (m && m.id === id) thread.messages.set(seq, gone(m));
  if (chat?.lastMessage?.id === id) chat.lastMessage = gone(chat.lastMessage);
  if (chatId === state.openChatId) renderThread();
  renderChatList();
}

/**
 * A deleted message no longer counts as unread (as `unreadCount` counts), if it did: someone else's,
 * past my read pointer, not deleted before. A message the page does not hold (a chat not opened, an
 * older page) may be any of those: the server is asked for the count.
 */
function uncountDeleted(chat, thread, { id, seq }) {
  const myReadSeq = Math.max(thread?.myReadSeq ?? 0, state.details.get(chat?.id)?.members.get(state.me?.id)?.lastReadSeq ?? 0);
  if (!chat?.unreadCount || seq <= myReadSeq) return;
  const held = [thread?.messages.get(seq), chat.lastMessage].find((m) => m?.id === id);
  if (!held) recount(chat.id);
  else if (held.senderId !== state.me?.id && !held.deletedAt) chat.unreadCount--;
}

/** Chats whose unread count is being asked for: a burst of deletes there asks once more at most. */
const recounting = new Map();

function recount(chatId) {
  if (recounting.has(chatId)) return recounting.set(chatId, true);
  recounting.set(chatId, false);
  loadDetail(chatId)
    .then(() => renderChatList())
    .catch(() => undefined)
    .finally(() => {
      const again = recounting.get(chatId);
      recounting.delete(chatId);
      if (again) recount(chatId);
    });
}

function applyRead({ chatId, userId, seq }) {
  if (userId === state.me?.id) {
    // Read on another device of mine.
    const thread = state.threads.get(chatId);
    if (thread) thread.myReadSeq = Math.max(thread.myReadSeq, seq);
    const chat = state.chats.get(chatId);
    if (chat && seq >= lastSeqOf(chat)) chat.unreadCount = 0;
    renderChatList();
    return;
  }
  const member = state.details.get(chatId)?.members.get(userId);
  if (member) member.lastReadSeq = Math.max(member.lastReadSeq ?? 0, seq);
  if (chatId === state.openChatId) renderThread();
}

function applySeen({ chatId, seq }) {
  const detail = state.details.get(chatId);
  if (detail) detail.seenSeq = Math.max(detail.seenSeq, seq);
  if (chatId === state.openChatId) renderThread();
}

async function refreshChat(chatId) {
  try {
    await loadDetail(chatId);
  } catch (error) {
    if (error.status === 404) forgetChat(chatId);
  }
  renderChatInfo(chatId);
  renderChatList();
  if (chatId === state.openChatId) {
    renderPaneHead();
    renderThread();
  }
}

function handleFrame(frame) {
  switch (frame.type) {
    case 'ready':
      // A socket the cookie already authenticated answers the auth frame with a second ready.
      return socket.ready ? undefined : socket.onReady(frame);
    case 'message_ack': {
      const pendingChat = [...state.threads.values()].find((t) => t.pending.has(frame.clientId));
      pendingChat?.pending.delete(frame.clientId);
      return applyMessage(frame.message);
    }
    case 'new_message':
      return applyMessage(frame.message);
    case 'message_updated':
      return applyUpdated(frame.message);
    case 'message_deleted':
      return applyDeleted(frame);
    case 'typing':
      return setTyping(frame.chatId, frame.userId, frame.isTyping);
    case 'read':
      return applyRead(frame);
    case 'message_seen':
      return applySeen(frame);
    case 'chat_created':
    case 'chat_updated': {
      const chat = frame.chat ?? frame;
      if (!chat?.id) return;
      mergeChat(chat);
      renderChatList();
      if (chat.id === state.openChatId) renderPaneHead();
      if (frame.type === 'chat_updated' && state.details.has(chat.id)) refreshChat(chat.id);
      return;
    }
    case 'chat_deleted':
      forgetChat(frame.chatId ?? frame.chat?.id);
      return renderChatList();
    case 'member_added':
    case 'member_removed':
      if (frame.userId === state.me?.id && frame.type === 'member_removed') {
        forgetChat(frame.chatId);
        return renderChatList();
      }
      return refreshChat(frame.chatId);
    case 'presence':
      state.presence.set(frame.userId, { online: frame.online, lastSeenAt: frame.lastSeenAt, heardAt: Date.now() });
      // Gone from every device: nobody is left typing (the indicator would otherwise wait out its timer).
      if (!frame.online) for (const [chatId, people] of state.typing) if (people.has(frame.userId)) setTyping(chatId, frame.userId, false);
      renderPaneHead();
      // The open info dialog, when it lists them (drawn again: its buttons are rebuilt, so not for anyone else).
      if (state.details.get(state.openChatId)?.members.has(frame.userId)) renderChatInfo(state.openChatId);
      return renderChatList();
    case 'error':
      return onErrorFrame(frame);
    default:
      // pong, synced and anything newer than this page: nothing to show.
      return undefined;
  }
}

/** Refusals that ask for the same send again later: the server is restarting (it closes the socket next), or too many frames. */
function isTryAgain(frame) {
  return frame.code === 'SERVER_RESTARTING' || frame.code === 'RATE_LIMITED' || frame.statusCode === 429 || frame.statusCode === 503;
}

let lastSlowDownToast = 0;

function onErrorFrame(frame) {
  // The token of an auth frame renewing the socket was refused: the close at expiry (4401) takes it from there.
  if (frame.id === AUTH_FRAME_ID) return;
  // A typing frame refused (too many, from several tabs together): the indicator is not worth a word.
  if (frame.id === TYPING_FRAME_ID) return;
  // A read report refused: too many (several tabs together) goes again once the wait is over, with
  // the newest seq read by then; any other refusal (the chat is gone) is not worth a word either.
  if (typeof frame.id === 'string' && frame.id.startsWith(READ_FRAME_PREFIX)) {
    if (isTryAgain(frame)) reportRead(frame.id.slice(READ_FRAME_PREFIX.length), (Number(frame.retryAfter) || 2) * 1000);
    return;
  }
  for (const [chatId, thread] of state.threads) {
    const pending = frame.id !== undefined && thread.pending.get(String(frame.id));
    if (pending && isTryAgain(frame)) {
      // Still pending: it goes out again after the reconnect (resumeAfterConnect) or after the wait, whichever comes first;
      // the same clientId makes a second copy harmless.
      pending.tries = (pending.tries ?? 0) + 1;
      const seconds = Number(frame.retryAfter) || Math.min(30, 2 ** (pending.tries - 1));
      // Said once a burst, not for each message the limit holds back.
      if (frame.statusCode === 429 && Date.now() - lastSlowDownToast > seconds * 1000) {
        lastSlowDownToast = Date.now();
        toast(`Sending too fast: the server takes the rest in ${seconds} s. They are kept, and go out in order.`, 'info');
      }
      clearTimeout(pending.retryTimer);
      pending.retryTimer = setTimeout(() => {
        if (state.threads.get(chatId)?.pending.get(pending.clientId) === pending && !pending.failed) transmit(pending);
      }, seconds * 1000);
      return;
    }
    if (pending) {
      pending.failed = true;
      if (chatId === state.openChatId) renderThread();
      toast(`Not sent: ${frame.message}`, 'error');
      return;
    }
  }
  toast(frame.message ?? 'The server reported an error.', 'error');
}

// ---------------------------------------------------------------- the WebSocket

const socket = {
  ws: null,
  ready: false,
  /** 4401 closes since the last ready: a token the server keeps refusing must not loop refreshes. */
  authFailures: 0,
  wanted: false,
  attempt: 0,
  retryTimer: null,
  countdown: null,
  pingTimer: null,
  pongTimer: null,
  /** The access token this socket went by (null: the cookie), and the timer that renews it before it expires. */
  token: null,
  renewTimer: null,
  /** When the last renewal was made: one at most every RENEW_GAP (a wrong clock must not make it loop). */
  renewedAt: 0,

  start() {
    this.wanted = true;
    this.attempt = 0;
    this.connect();
  },

  stop() {
    this.wanted = false;
    this.ready = false;
    clearTimeout(this.renewTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'signed out');
    this.badge('offline', 'Offline');
  },

  connect() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    if (!this.wanted) return;
    if (this.ws && this.ws.readyState <= 1) return;
    this.badge(this.attempt ? 'reconnecting' : 'connecting', this.attempt ? 'Reconnecting…' : 'Connecting…');
    // The browser sends the access_token cookie with the upgrade whatever this tab signed in as
    // (the cookie is the last sign-in's in this browser). `auth=frame` asks the server to go by the
    // auth frame alone; a server that does not know it goes by the cookie, and onReady checks whose
    // socket it is.
    const query = state.session?.accessToken ? '?auth=frame' : '';
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${query}`);
    this.ws = ws;
    this.ready = false;
    ws.addEventListener('open', () => {
      // Browsers cannot set headers on a WebSocket: the token goes in the first frame (the cookie is the fallback).
      if (ws !== this.ws) return;
      this.token = state.session?.accessToken ?? null;
      if (this.token) ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.ws) return;
      this.alive();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      handleFrame(frame);
    });
    ws.addEventListener('close', (event) => {
      if (ws === this.ws) this.closed(event.code);
    });
  },

  async closed(code) {
    this.ws = null;
    this.ready = false;
    clearTimeout(this.renewTimer);
    this.stopHeartbeat();
    if (!this.wanted) return;
    if (code === 4401) {
      // The access token expired or the session was revoked: a refresh tells which.
      this.badge('reconnecting', 'Renewing the session…');
      if (++this.authFailures > 2 || !(await refreshSession())) return signedOut('Your session has ended. Please sign in again.');
      this.attempt = 1;
      return this.connect();
    }
    const reasons = { 4403: 'Refused (origin)', 1008: 'Too many tabs or devices connected' };
    this.scheduleReconnect(reasons[code] ?? null);
  },

  /**
   * The cookie authenticated this socket as another session: another account (or another sign-in)
   * in this browser. Nothing may go out on it. Until the server honours `auth=frame`, a refresh
   * makes the cookies this session's again before the next try; a tab that has only the cookie
   * has lost its session to the other sign-in.
   */
  async foreign() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.renewTimer);
    this.stopHeartbeat();
    ws?.close(1000, 'another session');
    if (!state.session?.refreshToken) return signedOut('Someone else signed in in this browser. Please sign in again.');
    this.badge('reconnecting', 'Another account is signed in here…');
    if (!(await refreshSession({ force: true }))) return signedOut('Your session has ended. Please sign in again.');
    if (!this.wanted) return;
    // Another tab may take the cookie back at the same moment: then back off rather than race it.
    if (++this.authFailures > 1) return this.scheduleReconnect('Another account is signed in here');
    this.attempt = 1;
    this.connect();
  },

  scheduleReconnect(reason) {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    const due = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      this.badge('reconnecting', reason ? `${reason} · retry in ${seconds}s` : `Reconnecting in ${seconds}s`);
    };
    tick();
    this.countdown = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  },

  /** Reconnect at once (badge click, network back, tab shown) instead of waiting out the backoff. */
  now() {
    if (this.wanted && !this.ws) this.connect();
  },

  send(frame) {
    if (this.ws?.readyState === 1) this.ws.send(JSON.stringify(frame));
  },

  onReady(frame) {
    const mine = claimsOf(state.session?.accessToken);
    const wanted = mine ? { userId: mine.sub, sessionId: mine.sid } : { userId: state.me?.id };
    if (frame.userId !== wanted.userId || (wanted.sessionId && frame.sessionId !== wanted.sessionId)) return this.foreign();
    if (!mine) {
      // A cookie-only tab learns its session here, and takes its tokens if a tab of it shared them.
      state.sessionId = frame.sessionId;
      adoptSharedPair().catch(() => undefined);
    }
    this.ready = true;
    this.attempt = 0;
    this.authFailures = 0;
    this.badge('online', 'Online');
    this.startHeartbeat();
    this.scheduleRenewal();
    resumeAfterConnect().catch((error) => toast(errorText(error), 'error'));
  },

  /**
   * The server closes a socket when the token it went by expires (4401), and contacts would see
   * the user leave and come back. So shortly before, the page renews its tokens and sends the new
   * access token on the open socket (the server answers with a second `ready`, ignored). A socket
   * the cookie authenticated has no token to read the time from: it reconnects at the 4401.
   */
  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const claims = claimsOf(this.token);
    if (typeof claims?.exp !== 'number') return;
    const lifetimeMs = typeof claims.iat === 'number' ? (claims.exp - claims.iat) * 1000 : 0;
    // In the server's time, as the token's are.
    const dueIn = claims.exp * 1000 - (Date.now() + serverClockOffset) - Math.max(RENEW_BEFORE_MS, lifetimeMs / 5);
    const gap = Math.min(Math.max(lifetimeMs / 2, 1000), 30_000);
    this.renewTimer = setTimeout(() => this.renew(), Math.max(dueIn, this.renewedAt + gap - Date.now(), 0));
  },

  async renew() {
    const ws = this.ws;
    if (!ws || !this.ready) return;
    const socketExp = claimsOf(this.token)?.exp ?? 0;
    // Another request or tab may have renewed the pair already; else renew it (one tab at a time).
    const fresher = (claimsOf(state.session?.accessToken)?.exp ?? 0) > socketExp;
    this.renewedAt = Date.now();
    if (!fresher && !(await refreshSession())) return; // the 4401 at expiry tells whether the session ended
    if (ws !== this.ws || !this.ready || !state.session?.accessToken) return;
    if ((claimsOf(state.session.accessToken)?.exp ?? 0) <= socketExp) return;
    this.token = state.session.accessToken;
    ws.send(JSON.stringify({ type: 'auth', id: AUTH_FRAME_ID, token: this.token }));
    this.scheduleRenewal();
  },

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      this.send({ type: 'ping' });
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.dead(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  },

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  },

  alive() {
    clearTimeout(this.pongTimer);
  },

  /** No pong: the connection is gone without a close frame (sleep, network switch). Do not wait for TCP to notice. */
  dead() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.closed(1006);
  },

  badge(stateName, text) {
    const node = $('[data-testid="connection-state"]');
    const was = node.dataset.state;
    node.dataset.state = stateName;
    // Who is online is known only while connected: the dots and "online" follow the connection.
    if ((was === 'online') !== (stateName === 'online') && state.me) {
      renderChatList();
      renderPaneHead();
      renderChatInfo(state.openChatId);
    }
    slot('conn-text').textContent = text;
    node.title = stateName === 'reconnecting' ? `${text} Click to reconnect now.` : text;
  },
};

/**
 * After every (re)connect. sync goes out at once, from positions taken before any new frame is
 * applied: a live message handled first would otherwise hide the ones missed before it. Then what
 * waited is sent, and the chat list and read pointers are reloaded for what sync does not cover
 * (new chats, unread counts, reads).
 */
function resumeAfterConnect() {
  const chats = {};
  for (const [chatId, thread] of state.threads) if (thread.loaded && state.chats.has(chatId)) chats[chatId] = thread.top;
  if (Object.keys(chats).length) socket.send({ type: 'sync', chats });
  for (const thread of state.threads.values()) for (const pending of thread.pending.values()) if (!pending.failed) transmit(pending);
  return (async () => {
    await loadChats();
    for (const [chatId, thread] of state.threads) if (thread.loaded && chatId !== state.openChatId) thread.stale = true;
    if (state.openChatId && state.chats.has(state.openChatId)) {
      await refreshChat(state.openChatId);
      await recheckLoaded(state.openChatId);
    }
  })();
}

// ---------------------------------------------------------------- boot

async function boot() {
  bindAuthView();
  bindUserSearch();
  bindGroupDialog();
  bindProfileDialog();
  bindChatInfoDialog();
  bindPane();
  $('[data-testid="connection-state"]').addEventListener('click', () => socket.now());
  window.addEventListener('online', () => socket.now());
  // "last seen 2 minutes ago" ages while the chat stays open.
  setInterval(() => state.me && renderPaneHead(), 30_000);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && socket.now());
  window.addEventListener('pagehide', () => flushReads({ keepalive: true }));
  window.addEventListener('hashchange', () => route().catch((error) => toast(errorText(error), 'error')));

  try {
    const response = await fetch('/ui/config.json');
    if (response.ok) state.config = await response.json();
  } catch {
    // Without it the page still works; it only hides the seeded-account buttons.
  }
  if (state.config.missingModules?.length) return showUnavailable(state.config.missingModules);
  renderSeedUsers();
  await pruneSharedPairs();
  state.session = loadSession();
  state.sessionId = claimsOf(state.session?.accessToken)?.sid ?? null;
  // Another tab of this session may have refreshed since this one last saved its pair.
  if (state.session) await adoptSharedPair();
  await route();
}

boot().catch((error) => {
  toast(`The page failed to start: ${error.message}`, 'error');
});
