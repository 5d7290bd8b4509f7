import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ForbiddenError } from '../../src/common/errors/domain-error.js';
import { chatNotFound } from '../../src/modules/chats/chat-access.js';
import type { ActorCheck } from '../../src/modules/chats/chat.repository.js';
import { type ConversationStores, anyone, keepChat, codeOf } from './conversation-stores.js';

export function messageRepositoryContract(stores: () => ConversationStores): void {
  describe('MessageRepository contract', () => {
    const setup = async () => {
      const { chats, messages, newUser } = stores();
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      const chat = await chats.createGroup({ id: randomUUID(), title: `M ${randomUUID()}`, ownerId: a }, [b, c]);
      const append = (senderId: string, text = 'x', clientId: string | null = null) =>
        messages.append({ id: randomUUID(), chatId: chat.id, senderId, clientId, text });
      return { chats, messages, newUser, a, b, c, chat, append };
    };

    it('assigns seq 1..n without gaps under concurrent appends, and refuses non-members', async () => {
      const { a, b, c, chat, chats, append, newUser } = await setup();
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => append([a, b, c][i % 3], `m${i}`)));
      expect(results.map((r) => r.message.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(results[0].memberIds.sort()).toEqual([a, b, c].sort());
      expect((await chats.findById(chat.id))?.lastSeq).toBe(60);
      expect(await codeOf(append(await newUser()))).toBe('CHAT_NOT_FOUND');
      expect((await chats.findById(chat.id))?.lastSeq).toBe(60);
    });

    it('stores the sends to one chat in the order of the calls, however they overlap', async () => {
      const { a, b, chat, chats, messages, newUser } = await setup();
      const other = await chats.createGroup({ id: randomUUID(), title: `O ${randomUUID()}`, ownerId: b }, [a, await newUser()]);
      // Waves of calls made before the earlier ones settle, to two chats, as a pipelining
      // connection makes them: each chat's seqs must follow the order of its calls.
      const calls: Array<{ chatId: string; text: string; result: Promise<{ message: { seq: number; text: string | null } }> }> = [];
      for (let wave = 0; wave < 4; wave++) {
        for (let i = 0; i < 30; i++) {
          const chatId = i % 3 === 2 ? other.id : chat.id;
          const text = `w${wave} i${i}`;
          calls.push({
            chatId,
            text,
            result: messages.append({ id: randomUUID(), chatId, senderId: i % 2 ? a : b, clientId: null, text }),
          });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await Promise.all(calls.map((c) => c.result));
      for (const chatId of new Set(calls.map((c) => c.chatId))) {
        const seqs = results.filter((_, i) => calls[i].chatId === chatId).map((r) => r.message.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }
      expect(results.map((r) => r.message.text)).toEqual(calls.map((c) => c.text));
    });

    it('stores a clientId once per sender, returning the original on repeats, even concurrent ones', async () => {
      const { a, b, chat, append, chats, messages, newUser } = await setup();
      const clientId = randomUUID();
      const results = await Promise.all(Array.from({ length: 6 }, () => append(a, 'once', clientId)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
      expect((await append(b, 'other sender', clientId)).created).toBe(true);
      expect((await append(a, 'next')).message.seq).toBe(3);
      const elsewhere = await chats.createGroup({ id: randomUUID(), title: `E ${randomUUID()}`, ownerId: a }, []);
      expect(await codeOf(messages.append({ id: randomUUID(), chatId: elsewhere.id, senderId: a, clientId, text: 'x' }))).toBe(
        'CLIENT_ID_REUSED',
      );
      // Not a member: CHAT_NOT_FOUND, as for any chat one is not in, whatever the clientId; even a
      // retry of a send stored while they were a member learns nothing of the chat since.
      const outsider = await newUser();
      const theirs = await chats.createGroup({ id: randomUUID(), title: `O ${randomUUID()}`, ownerId: outsider }, []);
      expect(await codeOf(messages.append({ id: randomUUID(), chatId: theirs.id, senderId: a, clientId, text: 'x' }))).toBe(
        'CHAT_NOT_FOUND',
      );
      const leaversClientId = randomUUID();
      expect((await append(b, 'before leaving', leaversClientId)).created).toBe(true);
      await chats.removeMember(chat.id, b, keepChat);
      expect(await codeOf(append(b, 'before leaving', leaversClientId))).toBe('CHAT_NOT_FOUND');
      expect(await codeOf(append(b, 'after leaving', randomUUID()))).toBe('CHAT_NOT_FOUND');

      // The same at once: each send gets its own answer, not the other's.
      const answer = async (send: Promise<unknown>) => (await codeOf(send)) ?? 'stored';
      for (let round = 0; round < 3; round++) {
        const shared = randomUUID();
        const toTheirs = { id: randomUUID(), chatId: theirs.id, senderId: a, clientId: shared, text: 'to theirs' };
        expect(await Promise.all([answer(append(a, 'to my chat', shared)), answer(messages.append(toTheirs))])).toEqual([
          'stored',
          'CHAT_NOT_FOUND',
        ]);
        const again = randomUUID();
        const toOther = { id: randomUUID(), chatId: elsewhere.id, senderId: a, clientId: again, text: 'to my other chat' };
        const answers = await Promise.all([answer(append(a, 'to my chat', again)), answer(messages.append(toOther))]);
        expect(answers.sort()).toEqual(['CLIENT_ID_REUSED', 'stored']);
      }
    });

    it('pages history and keeps deleted messages as tombstones', async () => {
      const { a, chat, messages, append } = await setup();
      for (let i = 1; i <= 5; i++) await append(a, `m${i}`);
      expect((await messages.history(chat.id, { limit: 2 })).map((m) => m.seq)).toEqual([5, 4]);
      expect((await messages.history(chat.id, { limit: 2, before: 4 })).map((m) => m.seq)).toEqual([3, 2]);
      expect((await messages.history(chat.id, { limit: 10, after: 3 })).map((m) => m.seq)).toEqual([4, 5]);
      const page = await messages.page(chat.id, 2, 1);
      expect({ seqs: page.items.map((m) => m.seq), total: page.total }).toEqual({ seqs: [4, 3], total: 5 });
      const seqsAt = async (offset: number) => (await messages.page(chat.id, 2, offset)).items.map((m) => m.seq);
      expect([await seqsAt(4), await seqsAt(5), await seqsAt(9)]).toEqual([[1], [], []]);
      expect((await messages.page(chat.id, 2, 9)).total).toBe(5);
      const [third] = await messages.history(chat.id, { limit: 1, after: 2 });
      expect((await messages.editText(chat.id, third.id, 'edited', anyone)).editedAt).toBeInstanceOf(Date);
      const deleted = await messages.tombstone(chat.id, third.id, anyone);
      expect(deleted).toMatchObject({ seq: 3, text: null, deletedAt: expect.any(Date) });
      expect(await messages.tombstone(chat.id, third.id, anyone)).toBeUndefined();
      expect(await codeOf(messages.editText(chat.id, third.id, 'again', anyone))).toBe('MESSAGE_DELETED');
      expect((await messages.findById(chat.id, third.id))?.seq).toBe(3);
      const withTombstone = await messages.page(chat.id, 10, 1);
      expect(withTombstone.items.map((m) => [m.seq, m.text])).toEqual([
        [4, 'm4'],
        [3, null],
        [2, 'm2'],
        [1, 'm1'],
      ]);
    });

    it('checks an edit or a delete on the actor’s membership as it is when written, and writes nothing when refused', async () => {
      const { a, b, c, chat, chats, messages, append } = await setup();
      const { message: bs } = await append(b, 'from b');
      const { message: as } = await append(a, 'from a');
      const given: Array<string | undefined> = [];
      const adminOnly: ActorCheck = {
        actorId: c,
        allow: (actor) => {
          given.push(actor?.role);
          if (actor?.role !== 'admin') throw new ForbiddenError('NOT_MESSAGE_SENDER', 'admins only');
        },
      };
      expect(await codeOf(messages.tombstone(chat.id, as.id, adminOnly))).toBe('NOT_MESSAGE_SENDER');
      await chats.setRole(chat.id, c, 'admin', anyone);
      expect(await messages.tombstone(chat.id, as.id, adminOnly)).toMatchObject({ id: as.id, text: null });
      expect(given).toEqual(['member', 'admin']);

      await chats.removeMember(chat.id, b, keepChat);
      const stillMember: ActorCheck = {
        actorId: b,
        allow: (actor) => {
          if (!actor) throw chatNotFound();
        },
      };
      expect(await codeOf(messages.editText(chat.id, bs.id, 'after leaving', stillMember))).toBe('CHAT_NOT_FOUND');
      expect(await codeOf(messages.tombstone(chat.id, bs.id, stillMember))).toBe('CHAT_NOT_FOUND');
      expect(await messages.findById(chat.id, bs.id)).toMatchObject({ text: 'from b', editedAt: null, deletedAt: null });
    });

    it('moves editedAt forward by at least a millisecond per edit, so the later of two edits is recognisable', async () => {
      const { a, chat, messages, append } = await setup();
      const { message } = await append(a, 'first');
      // Edits in quick succession, and racing ones: each later stored edit has a later editedAt.
      const times: number[] = [];
      for (let i = 0; i < 5; i++) times.push((await messages.editText(chat.id, message.id, `edit ${i}`, anyone)).editedAt!.getTime());
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);
      const raced = await Promise.all(Array.from({ length: 6 }, (_, i) => messages.editText(chat.id, message.id, `race ${i}`, anyone)));
      const stored = await messages.findById(chat.id, message.id);
      const latest = raced.reduce((x, y) => (y.editedAt!.getTime() > x.editedAt!.getTime() ? y : x));
      expect(stored).toMatchObject({ text: latest.text, editedAt: latest.editedAt });
      expect(new Set(raced.map((m) => m.editedAt!.getTime())).size).toBe(raced.length);
    });

    it('moves read pointers forward only, lists readers and claims each seen notice once', async () => {
      const { a, b, c, chat, messages, append } = await setup();
      await append(a, 'one');
      const { message: two } = await append(a, 'two');
      expect(await messages.moveReadPointer(chat.id, b, 2)).toMatchObject({ from: 0, to: 2 });
      expect(await messages.moveReadPointer(chat.id, b, 1)).toBeUndefined();
      expect(await messages.claimSeenNotices(chat.id, b, 0, 2)).toEqual([]);
      expect((await messages.readers(two)).map((r) => r.userId)).toEqual([b]);
      await messages.moveReadPointer(chat.id, c, 2);
      const claims = await Promise.all([messages.claimSeenNotices(chat.id, c, 0, 2), messages.claimSeenNotices(chat.id, c, 0, 2)]);
      expect(claims.flat()).toEqual([{ senderId: a, seq: 2 }]);
      expect((await messages.readers(two)).map((r) => r.userId).sort()).toEqual([b, c].sort());
    });

    it('counts as readers of a message, for its seen notice as for its readers, only members who were there when it was sent', async () => {
      const { a, b, c, chat, chats, messages, newUser, append } = await setup();
      const { message: one } = await append(a, 'before anyone new');
      await messages.moveReadPointer(chat.id, b, 1);
      const late = await newUser();
      await chats.addMembers(chat.id, [late], 10, anyone); // comes in at seq 1: their pointer stands there
      // b read it; c, there when it was sent, did not: no notice, whoever else stands past it.
      expect(await messages.claimSeenNotices(chat.id, late, 0, 1)).toEqual([]);
      // c and b leave without c reading: only the newcomer is left, who was never sent it.
      await chats.removeMember(chat.id, c, keepChat);
      await chats.removeMember(chat.id, b, keepChat);
      expect(await messages.claimSeenNotices(chat.id, c, 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
      expect(await messages.readers(one)).toEqual([]);
      // What is sent after they came in, they can read, and that is told.
      const { message: two } = await append(a, 'after');
      await messages.moveReadPointer(chat.id, late, 2);
      expect(await messages.claimSeenNotices(chat.id, late, 1, 2)).toEqual([{ senderId: a, seq: 2 }]);
      expect((await messages.readers(two)).map((r) => r.userId)).toEqual([late]);
    });
  });
}
