import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ForbiddenError } from '../../src/common/errors/domain-error.js';
import type { ActorCheck, RemovalPlan } from '../../src/modules/chats/chat.repository.js';
import type { Member } from '../../src/modules/chats/domain/chat.js';
import { type ConversationStores, anyone, keepChat, eventually, codeOf } from './conversation-stores.js';

export function chatRepositoryContract(stores: () => ConversationStores): void {
  describe('ChatRepository contract', () => {
    it('returns one direct chat per pair, whichever side asks, and creates it once under a race', async () => {
      const { chats, newUser } = stores();
      const [a, b] = [await newUser(), await newUser()];
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => chats.findOrCreateDirect(randomUUID(), i % 2 ? a : b, i % 2 ? b : a)),
      );
      expect(new Set(results.map((r) => r.chat.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect((await chats.members(results[0].chat.id)).map((m) => m.userId).sort()).toEqual([a, b].sort());
    });

    it("lists a user's direct chats with the other person in each, and no group", async () => {
      const { chats, newUser } = stores();
      const [me, x, y, loner] = [await newUser(), await newUser(), await newUser(), await newUser()];
      const { chat: withX } = await chats.findOrCreateDirect(randomUUID(), me, x);
      const { chat: withY } = await chats.findOrCreateDirect(randomUUID(), y, me);
      await chats.findOrCreateDirect(randomUUID(), x, y);
      await chats.createGroup({ id: randomUUID(), title: `Group ${randomUUID()}`, ownerId: me }, [x]);
      const mine = await chats.directChatsOf(me);
      expect(mine.map(({ chat, peerId }) => [chat.id, chat.type, peerId]).sort()).toEqual(
        [
          [withX.id, 'direct', x],
          [withY.id, 'direct', y],
        ].sort(),
      );
      expect(await chats.directChatsOf(loner)).toEqual([]);
    });

    it('creates groups with an owner, refusing a title the owner already uses in any case', async () => {
      const { chats, newUser } = stores();
      const [owner, other, member] = [await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: 'Readers', ownerId: owner }, [member, owner]);
      expect(chat).toMatchObject({ type: 'group', title: 'Readers', ownerId: owner, lastSeq: 0, version: 0 });
      expect((await chats.members(chat.id)).map((m) => [m.userId, m.role])).toEqual([
        [owner, 'owner'],
        [member, 'member'],
      ]);
      expect(await codeOf(chats.createGroup({ id: randomUUID(), title: 'READERS', ownerId: owner }, []))).toBe('CHAT_TITLE_TAKEN');
      expect((await chats.createGroup({ id: randomUUID(), title: 'Readers', ownerId: other }, [])).ownerId).toBe(other);
      const second = await chats.createGroup({ id: randomUUID(), title: 'Writers', ownerId: owner }, []);
      expect(await codeOf(chats.rename(second.id, 'readers', anyone))).toBe('CHAT_TITLE_TAKEN');
      expect((await chats.rename(second.id, 'Editors', anyone)).chat.title).toBe('Editors');
    });

    it("counts each change a frame tells of in the chat's version (title, roles, members), and nothing a refusal or a no-op did", async () => {
      const { chats, newUser } = stores();
      const [owner, x, y] = [await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `V ${randomUUID()}`, ownerId: owner }, [x]);
      const version = async () => (await chats.findById(chat.id))?.version;
      expect(await version()).toBe(0);
      // A rename answers the chat as it left it, version included.
      const renamed = await chats.rename(chat.id, `Renamed ${randomUUID()}`, anyone);
      expect(renamed).toMatchObject({ chat: { version: 1 }, changed: true });
      await chats.setRole(chat.id, x, 'admin', anyone);
      expect(await version()).toBe(2);
      expect((await chats.addMembers(chat.id, [y], 10, anyone)).version).toBe(3);
      expect((await chats.removeMember(chat.id, y, keepChat)).version).toBe(4);
      await chats.setRole(chat.id, x, 'owner', anyone);
      expect(await version()).toBe(5);
      // Refused, or nobody new: the version stays.
      const no: ActorCheck = {
        actorId: owner,
        allow: () => {
          throw new ForbiddenError('CHAT_ADMIN_REQUIRED', 'no');
        },
      };
      expect(await codeOf(chats.rename(chat.id, 'Refused', no))).toBe('CHAT_ADMIN_REQUIRED');
      expect(await codeOf(chats.setRole(chat.id, owner, 'member', no))).toBe('CHAT_ADMIN_REQUIRED');
      expect((await chats.addMembers(chat.id, [x], 10, anyone)).version).toBe(5);
      // The title it has already (in the same case): nothing written, not even its activity.
      const same = await chats.rename(chat.id, renamed.chat.title!, anyone);
      expect(same).toEqual({ chat: await chats.findById(chat.id), changed: false });
      expect(await version()).toBe(5);
      // Renames racing each other take one version each.
      const raced = await Promise.all([1, 2, 3].map((i) => chats.rename(chat.id, `Race ${i} ${randomUUID()}`, anyone)));
      expect(raced.map((r) => r.chat.version).sort()).toEqual([6, 7, 8]);
      const last = raced.find((r) => r.chat.version === 8)!.chat;
      expect(await chats.findById(chat.id)).toMatchObject({ title: last.title, version: 8 });
    });

    it('runs the actor check in the change, on the role as it is then, and changes nothing when it refuses', async () => {
      const { chats, newUser } = stores();
      const [owner, admin, x] = [await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `Checked ${randomUUID()}`, ownerId: owner }, [admin]);
      await chats.setRole(chat.id, admin, 'admin', anyone);
      await chats.setRole(chat.id, admin, 'member', anyone); // demoted after an earlier look saw an admin
      const seen: Array<string | undefined> = [];
      const asAdmin: ActorCheck = {
        actorId: admin,
        allow: (actor) => {
          seen.push(actor?.role);
          if (actor?.role !== 'admin') throw new ForbiddenError('CHAT_ADMIN_REQUIRED', 'no longer an admin');
        },
      };
      expect(await codeOf(chats.rename(chat.id, 'Taken over', asAdmin))).toBe('CHAT_ADMIN_REQUIRED');
      expect(await codeOf(chats.addMembers(chat.id, [x], 10, asAdmin))).toBe('CHAT_ADMIN_REQUIRED');
      expect(await codeOf(chats.setRole(chat.id, admin, 'owner', asAdmin))).toBe('CHAT_ADMIN_REQUIRED');
      expect(await codeOf(chats.delete(chat.id, asAdmin))).toBe('CHAT_ADMIN_REQUIRED');
      expect(seen).toEqual(['member', 'member', 'member', 'member']);
      expect(await chats.findById(chat.id)).toMatchObject({ title: chat.title, ownerId: owner });
      expect((await chats.members(chat.id)).map((m) => [m.userId, m.role])).toEqual([
        [owner, 'owner'],
        [admin, 'member'],
      ]);
      const gone = { actorId: x, allow: (actor: Member | undefined) => expect(actor).toBeUndefined() };
      expect((await chats.rename(chat.id, 'Renamed by a check that saw a non-member', gone)).chat.title).toBe(
        'Renamed by a check that saw a non-member',
      );
    });

    it('refuses to hand a group to someone who owns one with its title, and changes nothing', async () => {
      const { chats, newUser } = stores();
      const [owner, heir] = [await newUser(), await newUser()];
      const title = `Club ${randomUUID()}`;
      const chat = await chats.createGroup({ id: randomUUID(), title, ownerId: owner }, [heir]);
      await chats.createGroup({ id: randomUUID(), title: title.toUpperCase(), ownerId: heir }, []);
      expect(await codeOf(chats.setRole(chat.id, heir, 'owner', anyone))).toBe('CHAT_TITLE_TAKEN');
      expect((await chats.findById(chat.id))?.ownerId).toBe(owner);
      expect((await chats.members(chat.id)).map((m) => [m.userId, m.role])).toEqual([
        [owner, 'owner'],
        [heir, 'member'],
      ]);
    });

    it('adds only new members, removes, transfers ownership and deletes with its members', async () => {
      const { chats, newUser } = stores();
      const [owner, x, y] = [await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `G ${randomUUID()}`, ownerId: owner }, [x]);
      const { added, memberIds, version } = await chats.addMembers(chat.id, [x, y, y], 10, anyone);
      expect(added).toEqual([y]);
      expect(version).toBe(1);
      expect([...memberIds].sort()).toEqual([owner, x, y].sort());
      expect(await chats.membership(chat.id, y)).toMatchObject({ role: 'member', lastReadSeq: 0 });
      await chats.setRole(chat.id, x, 'owner', anyone);
      expect((await chats.findById(chat.id))?.ownerId).toBe(x);
      expect((await chats.membership(chat.id, owner))?.role).toBe('admin');
      expect(await chats.removeMember(chat.id, y, keepChat)).toEqual({
        deleted: false,
        remaining: [x, owner],
        lastSeq: 0,
        version: 3,
      });
      expect(await codeOf(chats.removeMember(chat.id, y, keepChat))).toBe('MEMBER_NOT_FOUND');
      expect(await chats.membership(chat.id, y)).toBeUndefined();
      expect((await chats.contactsOf(owner)).sort()).toEqual([x]);
      expect((await chats.delete(chat.id, anyone)).sort()).toEqual([owner, x].sort());
      expect(await chats.findById(chat.id)).toBeUndefined();
      expect(await chats.membership(chat.id, x)).toBeUndefined();
    });

    it("removes the messages of a deleted chat, also one its last member left, and no other chat's", async () => {
      const { chats, messages, newUser } = stores();
      const [owner, other] = [await newUser(), await newUser()];
      const send = async (chatId: string, n: number) => {
        for (let i = 0; i < n; i++)
          await messages.append({ id: randomUUID(), chatId, senderId: owner, clientId: randomUUID(), text: `m${i}` });
      };
      const deleted = await chats.createGroup({ id: randomUUID(), title: `Gone ${randomUUID()}`, ownerId: owner }, [other]);
      const left = await chats.createGroup({ id: randomUUID(), title: `Left ${randomUUID()}`, ownerId: owner }, []);
      const kept = await chats.createGroup({ id: randomUUID(), title: `Kept ${randomUUID()}`, ownerId: owner }, [other]);
      await send(deleted.id, 12);
      await send(left.id, 3);
      await send(kept.id, 2);
      expect((await chats.delete(deleted.id, anyone)).sort()).toEqual([owner, other].sort());
      expect(await chats.removeMember(left.id, owner, () => ({ deleteChat: true }))).toMatchObject({ deleted: true });
      for (const chatId of [deleted.id, left.id]) {
        await eventually(async () => expect(await messages.history(chatId, { limit: 100 })).toEqual([]));
      }
      expect((await messages.history(kept.id, { limit: 100 })).map((m) => m.text)).toEqual(['m1', 'm0']);
    });

    it('gives a chat made again with a deleted one’s id (the LOCAL seed group) none of the old messages, and keeps its own from the purge', async () => {
      const { chats, messages, newUser } = stores();
      const owner = await newUser();
      const id = randomUUID();
      await chats.createGroup({ id, title: `Seed ${randomUUID()}`, ownerId: owner }, []);
      for (let i = 0; i < 30; i++)
        await messages.append({ id: randomUUID(), chatId: id, senderId: owner, clientId: null, text: `old ${i}` });
      await chats.delete(id, anyone);
      // Made again at once, while the old history may still be on its way out.
      await chats.createGroup({ id, title: `Seed ${randomUUID()}`, ownerId: owner }, []);
      const fresh = await messages.append({ id: randomUUID(), chatId: id, senderId: owner, clientId: null, text: 'new' });
      expect(fresh.message).toMatchObject({ seq: 1 });
      // However the purge ends, the new chat keeps its message and none of the old.
      for (let i = 0; i < 5; i++) {
        expect((await messages.history(id, { limit: 100 })).map((m) => m.text)).toEqual(['new']);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    it("says the chat's last seq at a removal and at an addition, where the member's messages stop and start", async () => {
      const { chats, messages, newUser } = stores();
      const [owner, leaver] = [await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `Seq ${randomUUID()}`, ownerId: owner }, [leaver]);
      for (const text of ['one', 'two', 'three'])
        await messages.append({ id: randomUUID(), chatId: chat.id, senderId: owner, clientId: null, text });
      expect(await chats.removeMember(chat.id, leaver, keepChat)).toEqual({
        deleted: false,
        remaining: [owner],
        lastSeq: 3,
        version: 1,
      });
      // Added back: the chat's last seq then, after which their messages start again.
      await messages.append({ id: randomUUID(), chatId: chat.id, senderId: owner, clientId: null, text: 'four' });
      expect(await chats.addMembers(chat.id, [leaver], 10, anyone)).toEqual({
        added: [leaver],
        memberIds: [owner, leaver],
        lastSeq: 4,
        version: 2,
      });
      // Nobody added: nothing changed, the version included.
      expect(await chats.addMembers(chat.id, [leaver], 10, anyone)).toMatchObject({ added: [], lastSeq: 4, version: 2 });
    });

    it('removes a member as one step decided on the members once the chat is locked, handing over or deleting', async () => {
      const { chats, newUser } = stores();
      const [owner, admin, member, clash] = [await newUser(), await newUser(), await newUser(), await newUser()];
      const title = `Club ${randomUUID()}`;
      const chat = await chats.createGroup({ id: randomUUID(), title, ownerId: owner }, [admin, member, clash]);
      await chats.setRole(chat.id, admin, 'admin', anyone);
      await chats.createGroup({ id: randomUUID(), title: title.toUpperCase(), ownerId: clash }, []);
      const roles = async () => (await chats.members(chat.id)).map((m) => [m.userId, m.role]);
      const before = await roles();

      // A refusal from decide changes nothing, and decide sees the members in members() order.
      let seen: string[] = [];
      const refuse = (members: Member[]): RemovalPlan => {
        seen = members.map((m) => m.userId);
        throw new ForbiddenError('CHAT_ADMIN_REQUIRED', 'no');
      };
      expect(await codeOf(chats.removeMember(chat.id, member, refuse))).toBe('CHAT_ADMIN_REQUIRED');
      expect(seen).toEqual((await chats.members(chat.id)).map((m) => m.userId));
      expect(await roles()).toEqual(before);

      // Nobody but someone who owns a group with this title could take over: nothing changes.
      expect(await codeOf(chats.removeMember(chat.id, owner, () => ({ deleteChat: false, successors: [clash] })))).toBe('CHAT_TITLE_TAKEN');
      expect(await roles()).toEqual(before);
      expect((await chats.findById(chat.id))?.ownerId).toBe(owner);

      // Only a member can be handed the group.
      const stranger = await newUser();
      expect(await codeOf(chats.removeMember(chat.id, owner, () => ({ deleteChat: false, successors: [stranger, member] })))).toBe(
        'MEMBER_NOT_FOUND',
      );
      expect(await roles()).toEqual(before);
      expect((await chats.findById(chat.id))?.ownerId).toBe(owner);

      // The first successor who can take it over does; one who cannot is passed over.
      expect(await chats.removeMember(chat.id, owner, () => ({ deleteChat: false, successors: [clash, member, admin] }))).toEqual({
        deleted: false,
        remaining: before.map(([id]) => id).filter((id) => id !== owner),
        lastSeq: 0,
        version: 2,
      });
      expect((await chats.findById(chat.id))?.ownerId).toBe(member);
      expect(await chats.membership(chat.id, member)).toMatchObject({ role: 'owner' });
      expect(await chats.membership(chat.id, owner)).toBeUndefined();

      expect(await chats.removeMember(chat.id, clash, () => ({ deleteChat: true }))).toEqual({
        deleted: true,
        remaining: [],
        lastSeq: 0,
        version: 0,
      });
      expect(await chats.findById(chat.id)).toBeUndefined();
      expect(await chats.members(chat.id)).toEqual([]);
      expect(await codeOf(chats.removeMember(chat.id, admin, keepChat))).toBe('CHAT_NOT_FOUND');
    });

    it('serialises removals: the last two members leaving at once delete the chat, and an owner and heir leaving at once leave an owner', async () => {
      const { chats, newUser } = stores();
      // The handler's rule: the last one out deletes the chat; an owner hands over to the senior remaining member.
      const leave =
        (userId: string) =>
        (members: Member[]): RemovalPlan => {
          const remaining = members.filter((m) => m.userId !== userId);
          if (remaining.length === 0) return { deleteChat: true };
          const leaving = members.find((m) => m.userId === userId);
          return { deleteChat: false, successors: leaving?.role === 'owner' ? remaining.map((m) => m.userId) : [] };
        };
      for (let round = 0; round < 3; round++) {
        const [a, b, c] = [await newUser(), await newUser(), await newUser()];
        const pair = await chats.createGroup({ id: randomUUID(), title: `Pair ${randomUUID()}`, ownerId: a }, [b]);
        const outcomes = await Promise.all([chats.removeMember(pair.id, a, leave(a)), chats.removeMember(pair.id, b, leave(b))]);
        expect(outcomes.filter((o) => o.deleted)).toHaveLength(1);
        expect(await chats.findById(pair.id)).toBeUndefined();

        const trio = await chats.createGroup({ id: randomUUID(), title: `Trio ${randomUUID()}`, ownerId: a }, [b, c]);
        await chats.setRole(trio.id, b, 'admin', anyone);
        await Promise.all([chats.removeMember(trio.id, a, leave(a)), chats.removeMember(trio.id, b, leave(b))]);
        expect((await chats.members(trio.id)).map((m) => [m.userId, m.role])).toEqual([[c, 'owner']]);
        expect((await chats.findById(trio.id))?.ownerId).toBe(c);
      }
    });

    it('adds members up to the limit, counting only newcomers, and never past it when additions race', async () => {
      const { chats, newUser } = stores();
      const [owner, x, y, z] = [await newUser(), await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `G ${randomUUID()}`, ownerId: owner }, [x]);
      // Already members do not count against the limit.
      expect((await chats.addMembers(chat.id, [owner, x, y], 3, anyone)).added).toEqual([y]);
      expect(await codeOf(chats.addMembers(chat.id, [z], 3, anyone))).toBe('CHAT_FULL');
      expect((await chats.members(chat.id)).map((m) => m.userId).sort()).toEqual([owner, x, y].sort());
      const newcomers = [await newUser(), await newUser(), await newUser()];
      const raced = await Promise.allSettled(newcomers.map((u) => chats.addMembers(chat.id, [u], 5, anyone)));
      expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      // Each change its own version, in the order they took the chat: the first addition was 1.
      const versions = raced.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version] : [])).sort();
      expect(versions).toEqual([2, 3]);
      expect(await chats.members(chat.id)).toHaveLength(5);
      expect(await codeOf(chats.addMembers(randomUUID(), [z], 5, anyone))).toBe('CHAT_NOT_FOUND');
    });

    it('refuses to give a role to someone who is not a member, and changes nothing', async () => {
      const { chats, newUser } = stores();
      const [owner, stranger] = [await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `G ${randomUUID()}`, ownerId: owner }, []);
      expect(await codeOf(chats.setRole(chat.id, stranger, 'owner', anyone))).toBe('MEMBER_NOT_FOUND');
      expect(await codeOf(chats.setRole(chat.id, stranger, 'admin', anyone))).toBe('MEMBER_NOT_FOUND');
      expect(await codeOf(chats.setRole(randomUUID(), owner, 'admin', anyone))).toBe('CHAT_NOT_FOUND');
      expect((await chats.findById(chat.id))?.ownerId).toBe(owner);
      expect((await chats.members(chat.id)).map((m) => [m.userId, m.role])).toEqual([[owner, 'owner']]);
    });

    it("lists a member's chats newest activity first with last message, unread and member counts", async () => {
      const { chats, messages, newUser } = stores();
      const [me, peer] = [await newUser(), await newUser()];
      const quiet = await chats.createGroup({ id: randomUUID(), title: `Quiet ${randomUUID()}`, ownerId: me }, [peer]);
      const { chat: direct } = await chats.findOrCreateDirect(randomUUID(), me, peer);
      const busy = await chats.createGroup({ id: randomUUID(), title: `Busy ${randomUUID()}`, ownerId: peer }, [me]);
      await messages.append({ id: randomUUID(), chatId: busy.id, senderId: peer, clientId: null, text: 'one' });
      await messages.append({ id: randomUUID(), chatId: busy.id, senderId: peer, clientId: null, text: 'two' });
      await messages.append({ id: randomUUID(), chatId: busy.id, senderId: me, clientId: null, text: 'mine' });
      await messages.append({ id: randomUUID(), chatId: busy.id, senderId: peer, clientId: null, text: 'three' });

      const list = await chats.listForUser(me, 10);
      expect(list.map((s) => s.chat.id)).toEqual([busy.id, direct.id, quiet.id]);
      expect(list[0]).toMatchObject({
        memberCount: 2,
        unreadCount: 1,
        peerId: null,
        lastMessage: expect.objectContaining({ seq: 4, text: 'three', senderId: peer }),
      });
      expect(list[1]).toMatchObject({ peerId: peer, lastMessage: null, unreadCount: 0 });
      const page = await chats.listForUser(me, 1, { activityAt: list[0].chat.lastActivityAt.toISOString(), id: list[0].chat.id });
      expect(page.map((s) => s.chat.id)).toEqual([direct.id]);
      expect(await chats.summary(busy.id, me)).toMatchObject({ unreadCount: 1 });
      expect(await chats.summary(busy.id, await newUser())).toBeUndefined();
      // A deleted message is not unread; nor is one's own sent from elsewhere after the pointer.
      const [, , , three] = await messages.history(busy.id, { limit: 10, after: 0 });
      await messages.tombstone(busy.id, three.id, anyone);
      expect(await chats.summary(busy.id, me)).toMatchObject({ unreadCount: 0 });
      await messages.append({ id: randomUUID(), chatId: busy.id, senderId: peer, clientId: null, text: 'four' });
      expect(await chats.summary(busy.id, me)).toMatchObject({ unreadCount: 1 });
    });

    it("says, of the chats named, those a user is in and each one's last seq, in one call", async () => {
      const { chats, messages, newUser } = stores();
      const [me, other] = [await newUser(), await newUser()];
      const mine = await chats.createGroup({ id: randomUUID(), title: `Mine ${randomUUID()}`, ownerId: me }, []);
      const theirs = await chats.createGroup({ id: randomUUID(), title: `Theirs ${randomUUID()}`, ownerId: other }, []);
      const { chat: direct } = await chats.findOrCreateDirect(randomUUID(), me, other);
      for (const text of ['a', 'b']) await messages.append({ id: randomUUID(), chatId: mine.id, senderId: me, clientId: null, text });
      const found = await chats.lastSeqsOfMember(me, [mine.id, theirs.id, direct.id, randomUUID()]);
      expect(Object.fromEntries(found)).toEqual({ [mine.id]: 2, [direct.id]: 0 });
      expect((await chats.lastSeqsOfMember(me, [])).size).toBe(0);
    });
  });
}

/** What every MessageRepository adapter must do. */
