import { randomUUID } from 'node:crypto';

/** Who is in which chat, and who speaks: the same shape for the bare relay and for Parley. */
export interface BenchUser {
  index: number;
  userId: string;
  /** Bearer token for the WebSocket upgrade (for the bare relay, the user id itself). */
  token: string;
  chat: number;
}

export interface BenchChat {
  index: number;
  id: string;
  /** User indexes; members[0] is the chat's one active sender. */
  members: number[];
}

export interface Topology {
  users: BenchUser[];
  chats: BenchChat[];
}

/** Users 0..U-1 in consecutive groups of G (the last group may be smaller). */
export function groupIndexes(users: number, group: number): number[][] {
  const groups: number[][] = [];
  for (let start = 0; start < users; start += group) {
    groups.push(Array.from({ length: Math.min(group, users - start) }, (_, i) => start + i));
  }
  return groups;
}

export function senderOf(chat: BenchChat): number {
  return chat.members[0];
}

/** A tenth of the users, never a sender, spread over as many chats as possible. */
export function catchUpUsers(topology: Topology): number[] {
  const wanted = Math.max(1, Math.floor(topology.users.length / 10));
  const picked: number[] = [];
  for (let position = 1; picked.length < wanted; position++) {
    let any = false;
    for (const chat of topology.chats) {
      if (position < chat.members.length) {
        any = true;
        picked.push(chat.members[position]);
        if (picked.length === wanted) break;
      }
    }
    if (!any) break;
  }
  return picked;
}

/** The bare relay's topology: ids are made up, tokens are the user ids. */
export function bareTopology(users: number, group: number): Topology {
  const groups = groupIndexes(users, group);
  const chats = groups.map((members, index) => ({ index, id: randomUUID(), members }));
  const benchUsers: BenchUser[] = [];
  for (const chat of chats) {
    for (const u of chat.members) {
      const userId = randomUUID();
      benchUsers[u] = { index: u, userId, token: userId, chat: chat.index };
    }
  }
  return { users: benchUsers, chats };
}

export async function postBareRooms(baseUrl: string, topology: Topology): Promise<void> {
  const rooms = Object.fromEntries(topology.chats.map((c) => [c.id, c.members.map((u) => topology.users[u].userId)]));
  const res = await fetch(`${baseUrl}/bench/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rooms }),
  });
  if (res.status !== 204) throw new Error(`bare relay refused the rooms: ${res.status} ${await res.text()}`);
}
