import type { BenchChat, BenchUser, Topology } from './topology.js';
import { groupIndexes } from './topology.js';

export const BENCH_PASSWORD = 'bench-passw0rd';

/** Runs `fn` over `items` with at most `concurrency` in flight, reporting progress. */
export async function pool<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  onProgress?: (done: number) => void,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export async function api<T>(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response | undefined;
  for (let attempt = 1; ; attempt++) {
    res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    // The bench starts Parley with RATE_LIMIT_AUTH_PER_IP raised; a 429 means something else limits, so wait as told, a few times.
    if (res.status !== 429 || attempt === 5) break;
    await new Promise((r) => setTimeout(r, Math.min(10, Number(res!.headers.get('retry-after') ?? 1)) * 1000));
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /api/v1${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Signs U users up and in (argon2 makes each call ~25 ms of server CPU, so this is the slow part
 * of a run and happens once), then creates one group chat per G users.
 */
export async function setUpParley(
  baseUrl: string,
  users: number,
  group: number,
  runId: string,
  concurrency: number,
  progress: (text: string) => void,
): Promise<Topology> {
  const started = performance.now();
  const indexes = Array.from({ length: users }, (_, i) => i);
  const accounts = await pool(
    indexes,
    concurrency,
    async (i) => {
      const email = `bench-${runId}-${i}@bench.parley.test`;
      await api(baseUrl, 'POST', '/auth/sign-up', { email, password: BENCH_PASSWORD, name: `Bench ${i}` });
      const signedIn = await api<{ accessToken: string; user: { id: string } }>(baseUrl, 'POST', '/auth/sign-in', {
        email,
        password: BENCH_PASSWORD,
      });
      return { userId: signedIn.user.id, token: signedIn.accessToken };
    },
    (done) => progress(`setup: signed up and in ${done}/${users} users (${((performance.now() - started) / 1000).toFixed(0)} s)`),
  );

  const groups = groupIndexes(users, group);
  const benchUsers: BenchUser[] = [];
  const chats = await pool(
    groups,
    concurrency,
    async (members, index): Promise<BenchChat> => {
      const owner = accounts[members[0]];
      const chat = await api<{ id: string }>(
        baseUrl,
        'POST',
        '/chats',
        { type: 'group', title: `bench ${runId} ${index}`, memberIds: members.slice(1).map((u) => accounts[u].userId) },
        owner.token,
      );
      return { index, id: chat.id, members };
    },
    (done) => progress(`setup: created ${done}/${groups.length} group chats`),
  );
  for (const chat of chats) for (const u of chat.members) benchUsers[u] = { index: u, ...accounts[u], chat: chat.index };
  return { users: benchUsers, chats };
}

/** Stored messages per chat through the REST history (offset mode reports `total`). */
export async function storedCounts(baseUrl: string, topology: Topology, concurrency: number): Promise<number[]> {
  return pool(topology.chats, concurrency, async (chat) => {
    const owner = topology.users[chat.members[0]];
    const page = await api<{ total: number }>(baseUrl, 'GET', `/chats/${chat.id}/messages?offset=0&limit=1`, undefined, owner.token);
    return page.total;
  });
}
