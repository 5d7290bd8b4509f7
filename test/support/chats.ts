import type { SignedIn } from './accounts.js';
import type { httpClient } from './http.js';

/** A group made by `owner` with `members` through REST; its id. */
export async function createGroup(
  request: ReturnType<typeof httpClient>,
  owner: SignedIn,
  members: SignedIn[],
  title = `G ${crypto.randomUUID()}`,
): Promise<string> {
  const created = await request('POST', '/api/v1/chats', {
    token: owner.accessToken,
    body: { type: 'group', title, memberIds: members.map((m) => m.user.id) },
  });
  if (created.status !== 201) throw new Error(`Could not create the group: ${created.status} ${JSON.stringify(created.body)}`);
  return (created.body as { id: string }).id;
}
