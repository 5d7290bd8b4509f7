import { Logger } from '@nestjs/common';
import type { ClientSession, Connection, Model, PipelineStage } from 'mongoose';
import { createIndexes } from '../../../../../database/mongo/models.js';
import { isDuplicateKey } from '../../../../../database/mongo/mongo-errors.js';
import { inTransaction } from '../../../../../database/mongo/transactions.js';
import { MESSAGES_COLLECTION, messageModel } from '../../../../messages/infrastructure/persistence/mongo/message.schema.js';
import {
  chatFull,
  chatNotFound,
  memberNotFound,
  newOwnerTitleTaken,
  noSuccessorCanOwn,
  ownerTitleTaken,
  titleTaken,
} from '../../../chat-access.js';
import {
  type ActorCheck,
  ChatRepository,
  type ChatListCursor,
  type MembersAdded,
  type RemovalOutcome,
  type RemovalPlan,
} from '../../../chat.repository.js';
import { type Chat, type ChatSummary, directKey, type Member, type MemberRole } from '../../../domain/chat.js';
import { MongoChatHistoryPurge } from './chat-history-purge.js';
import { byRoleThenSeniority, type SummaryRow, toChat, toChatSummary, toMember } from './chat.mapper.js';
import {
  CHATS_DIRECT_KEY,
  CHATS_OWNER_TITLE,
  type ChatRecord,
  chatModels,
  MEMBERS_COLLECTION,
  type MemberRecord,
  memberKey,
  newMember,
} from './chat.schema.js';

/** Where the store notes the data steps it has taken, so that each runs once, not at every start. */
const UPGRADES_COLLECTION = 'parley_upgrades';

/**
 * Chat records written before the version counted renames and role changes too kept it as
 * `membersVersion`: it carries on as `version`, never lower than a count kept since. Runs until
 * it is noted done (a scan of the chats: once, not at every start); concurrent starts may both
 * run it, harmlessly. Stop instances of the earlier release first: one still running would go on
 * counting in the old field. Through the driver: an update pipeline is not Mongoose's to cast.
 */
async function renameMembersVersion(connection: Connection, chats: Pick<Model<ChatRecord>, 'collection'>): Promise<void> {
  const upgrades = connection.collection<{ _id: string; at: Date }>(UPGRADES_COLLECTION);
  if (await upgrades.findOne({ _id: 'chats.version' })) return;
  const { modifiedCount } = await chats.collection.updateMany({ membersVersion: { $exists: true } }, [
    { $set: { version: { $max: [{ $ifNull: ['$version', 0] }, '$membersVersion'] } } },
    { $unset: 'membersVersion' },
  ]);
  await upgrades.updateOne({ _id: 'chats.version' }, { $setOnInsert: { at: new Date() } }, { upsert: true });
  if (modifiedCount > 0) new Logger('MongoChatRepository').log(`Renamed membersVersion to version on ${modifiedCount} chat record(s).`);
}

/**
 * Chats in MongoDB. Whatever must be atomic runs in one transaction; every change to who is in a
 * chat also writes the chat record (memberIds, updatedAt), so it conflicts with a concurrent send,
 * which writes that record too (lastSeq): one of the two is retried on the other's result.
 */
export class MongoChatRepository extends ChatRepository {
  private constructor(
    private readonly connection: Connection,
    private readonly chats: Model<ChatRecord>,
    private readonly memberships: Model<MemberRecord>,
    private readonly purges: MongoChatHistoryPurge,
  ) {
    super();
  }

  /**
   * Registers the models and creates their indexes, awaited: the unique keys exist before the
   * first write. Then, in the background, removes the messages of chats deleted while a previous
   * process could not finish that, and looks for such chats every minute.
   */
  static async open(connection: Connection): Promise<MongoChatRepository> {
    const { chats, members, purges } = chatModels(connection);
    await createIndexes(chats, members);
    await renameMembersVersion(connection, chats);
    // Made here, not by the first delete's transaction: older servers create no collection inside one.
    await purges.createCollection();
    const purge = new MongoChatHistoryPurge(connection, chats, messageModel(connection), purges);
    purge.startSweeping();
    return new MongoChatRepository(connection, chats, members, purge);
  }

  /** Resolves once the purges this instance has started have finished or stopped (tests). */
  purgesIdle(): Promise<void> {
    return this.purges.idle();
  }

  async findOrCreateDirect(id: string, userA: string, userB: string): Promise<{ chat: Chat; created: boolean }> {
    const key = directKey(userA, userB);
    // Most calls open a chat that exists: one read, no transaction.
    const found = await this.chats.findOne(byDirectKey(key)).lean<ChatRecord>();
    if (found) return { chat: toChat(found), created: false };
    const now = new Date();
    const record: ChatRecord = {
      _id: id,
      type: 'direct',
      title: null,
      ownerId: null,
      directKey: key,
      lastSeq: 0,
      lastActivityAt: now,
      createdAt: now,
      updatedAt: now,
      memberIds: [userA, userB],
    };
    try {
      await inTransaction(this.connection, async (session) => {
        await this.chats.insertMany([record], { session });
        await this.memberships.insertMany([newMember(id, userA, 'member', now), newMember(id, userB, 'member', now)], { session });
      });
      return { chat: toChat(record), created: true };
    } catch (error) {
      // The unique key decides a race: the loser reads the winner's chat.
      if (!isDuplicateKey(error, CHATS_DIRECT_KEY)) throw error;
    }
    const existing = await this.chats.findOne(byDirectKey(key)).lean<ChatRecord>();
    if (!existing) throw new Error(`The direct chat ${key} clashed on its unique key but cannot be read back.`);
    return { chat: toChat(existing), created: false };
  }

  async createGroup(chat: { id: string; title: string; ownerId: string }, memberIds: string[]): Promise<Chat> {
    const others = [...new Set(memberIds)].filter((m) => m !== chat.ownerId);
    const now = new Date();
    const record: ChatRecord = {
      _id: chat.id,
      type: 'group',
      title: chat.title,
      titleLower: chat.title.toLowerCase(),
      ownerId: chat.ownerId,
      lastSeq: 0,
      lastActivityAt: now,
      createdAt: now,
      updatedAt: now,
      memberIds: [chat.ownerId, ...others],
    };
    try {
      await inTransaction(this.connection, async (session) => {
        await this.chats.insertMany([record], { session });
        await this.purges.finishBeforeReuse(chat.id, session);
        await this.memberships.insertMany(
          [newMember(chat.id, chat.ownerId, 'owner', now), ...others.map((m) => newMember(chat.id, m, 'member', now))],
          { session },
        );
      });
    } catch (error) {
      if (isDuplicateKey(error, CHATS_OWNER_TITLE)) throw titleTaken();
      throw error;
    }
    return toChat(record);
  }

  async findById(id: string): Promise<Chat | undefined> {
    const row = await this.chats.findById(id).lean<ChatRecord>();
    return row ? toChat(row) : undefined;
  }

  async membership(chatId: string, userId: string): Promise<Member | undefined> {
    const row = await this.memberships.findById(memberKey(chatId, userId)).lean<MemberRecord>();
    return row ? toMember(row) : undefined;
  }

  async lastSeqsOfMember(userId: string, chatIds: string[]): Promise<Map<string, number>> {
    if (chatIds.length === 0) return new Map();
    // The chat record lists its members (memberIds, kept with the memberships in one transaction).
    const chats = await this.chats.find({ _id: { $in: chatIds }, memberIds: userId }, { lastSeq: 1 }).lean<ChatRecord[]>();
    return new Map(chats.map((c) => [c._id, c.lastSeq]));
  }

  async members(chatId: string, session?: ClientSession): Promise<Member[]> {
    const rows = await this.memberships.find({ chatId }, null, { session }).lean<MemberRecord[]>();
    return rows.map(toMember).sort(byRoleThenSeniority);
  }

  async summary(chatId: string, userId: string): Promise<ChatSummary | undefined> {
    const [found] = await this.summaries(userId, 1, undefined, chatId);
    return found;
  }

  listForUser(userId: string, limit: number, after?: ChatListCursor): Promise<ChatSummary[]> {
    return this.summaries(userId, limit, after);
  }

  /**
   * One aggregation, one round trip: the page of the caller's chats walks the chats_member_activity
   * index ({ memberIds, lastActivityAt, _id }); then, per chat on the page, the caller's read
   * pointer is one _id lookup, the newest message one point of messages_chat_seq, and the unread
   * count one range of it (seq above the pointer), as the SQL adapter's correlated sub-selects.
   */
  private async summaries(userId: string, limit: number, after?: ChatListCursor, chatId?: string): Promise<ChatSummary[]> {
    const me = { $literal: userId };
    const match: Record<string, unknown> = { memberIds: userId };
    if (chatId) match._id = chatId;
    if (after) {
      const at = new Date(after.activityAt);
      match.lastActivityAt = { $lte: at };
      match.$nor = [{ lastActivityAt: at, _id: { $gte: after.id } }];
    }
    const pipeline: PipelineStage[] = [
      { $match: match },
      { $sort: { lastActivityAt: -1, _id: -1 } },
      { $limit: limit },
      { $addFields: { myKey: { $concat: ['$_id', ':', me] } } },
      { $lookup: { from: MEMBERS_COLLECTION, localField: 'myKey', foreignField: '_id', as: 'me' } },
      { $addFields: { myReadSeq: { $ifNull: [{ $arrayElemAt: ['$me.lastReadSeq', 0] }, 0] } } },
      {
        $lookup: {
          from: MESSAGES_COLLECTION,
          let: { chatId: '$_id', seq: '$lastSeq' },
          pipeline: [{ $match: { $expr: { $and: [{ $eq: ['$chatId', '$$chatId'] }, { $eq: ['$seq', '$$seq'] }] } } }, { $limit: 1 }],
          as: 'last',
        },
      },
      {
        $lookup: {
          from: MESSAGES_COLLECTION,
          let: { chatId: '$_id', after: '$myReadSeq' },
          pipeline: [
            { $match: { $expr: { $and: [{ $eq: ['$chatId', '$$chatId'] }, { $gt: ['$seq', '$$after'] }] } } },
            { $match: { senderId: { $ne: userId }, deletedAt: null } },
            { $count: 'n' },
          ],
          as: 'unread',
        },
      },
      {
        $project: {
          type: 1,
          title: 1,
          ownerId: 1,
          lastSeq: 1,
          version: 1,
          lastActivityAt: 1,
          createdAt: 1,
          updatedAt: 1,
          last: 1,
          unread: 1,
          memberCount: { $size: '$memberIds' },
          peerId: {
            $cond: [
              { $eq: ['$type', 'direct'] },
              { $arrayElemAt: [{ $filter: { input: '$memberIds', cond: { $ne: ['$$this', me] } } }, 0] },
              null,
            ],
          },
        },
      },
    ];
    const rows = await this.chats.aggregate<SummaryRow>(pipeline);
    return rows.map(toChatSummary);
  }

  async rename(chatId: string, title: string, check: ActorCheck): Promise<{ chat: Chat; changed: boolean }> {
    try {
      return await inTransaction(this.connection, async (session) => {
        const before = await this.claim(chatId, session);
        if (!before) throw chatNotFound();
        await this.checkActor(chatId, check, session);
        if (before.title === title) return { chat: toChat(before), changed: false };
        const now = new Date();
        // Writes the chat record, as every change to the chat does: a concurrent one conflicts and runs again.
        const row = await this.chats
          .findOneAndUpdate(
            { _id: chatId },
            { $set: { title, titleLower: title.toLowerCase(), updatedAt: now }, $max: { lastActivityAt: now }, $inc: { version: 1 } },
            { returnDocument: 'after', session },
          )
          .lean<ChatRecord>();
        if (!row) throw chatNotFound();
        return { chat: toChat(row), changed: true };
      });
    } catch (error) {
      if (isDuplicateKey(error, CHATS_OWNER_TITLE)) throw ownerTitleTaken();
      throw error;
    }
  }

  async delete(chatId: string, check: ActorCheck): Promise<string[]> {
    const memberIds = await inTransaction(this.connection, async (session) => {
      if (!(await this.claim(chatId, session, { _id: 1 }))) throw chatNotFound(); // as on PostgreSQL
      await this.checkActor(chatId, check, session);
      const chat = await this.chats
        .findOneAndDelete({ _id: chatId }, { session, projection: { memberIds: 1, lastSeq: 1 } })
        .lean<ChatRecord>();
      if (!chat) return [];
      await this.memberships.deleteMany({ chatId }, { session });
      await this.purges.note(chatId, chat.lastSeq, session);
      return chat.memberIds;
    });
    // The history goes after the commit, in the background: once the chat record is gone no send
    // can add to it (a send writes that record) and no read reaches it (every read checks
    // membership first).
    this.purges.start(chatId);
    return memberIds;
  }

  /** Nest calls this on shutdown, before the connection closes: the batch in flight commits, and what is left is the next start's. */
  async onModuleDestroy(): Promise<void> {
    await this.purges.stop();
  }

  async addMembers(chatId: string, userIds: string[], maxMembers: number, check: ActorCheck): Promise<MembersAdded> {
    return inTransaction(this.connection, async (session) => {
      const chat = await this.claim(chatId, session, { lastSeq: 1, memberIds: 1, version: 1 });
      if (!chat) throw chatNotFound();
      await this.checkActor(chatId, check, session);
      const present = new Set(chat.memberIds);
      const added = [...new Set(userIds)].filter((u) => !present.has(u));
      if (present.size + added.length > maxMembers) throw chatFull(maxMembers);
      const version = chat.version ?? 0;
      if (added.length === 0) return { added, memberIds: chat.memberIds, lastSeq: chat.lastSeq, version };
      const now = new Date();
      // This write conflicts with any send committed since the read above, so the transaction is
      // retried and lastSeq below is the chat's last seq when the joiners arrive.
      await this.chats.updateOne(
        { _id: chatId },
        { $push: { memberIds: { $each: added } }, $set: { updatedAt: now }, $max: { lastActivityAt: now }, $inc: { version: 1 } },
        { session },
      );
      // Joiners start with everything so far read: history is there to scroll, not unread.
      await this.memberships.insertMany(
        added.map((u) =>
          Object.assign(newMember(chatId, u, 'member', now), { lastReadSeq: chat.lastSeq, lastReadAt: now, joinedSeq: chat.lastSeq }),
        ),
        { session },
      );
      return { added, memberIds: [...chat.memberIds, ...added], lastSeq: chat.lastSeq, version: version + 1 };
    });
  }

  /**
   * Every path writes the chat record, and so does every other change to the chat (sends
   * included): two of them at once conflict, and withTransaction runs the loser again, deciding
   * anew on what the winner left.
   */
  async removeMember(chatId: string, userId: string, decide: (members: Member[]) => RemovalPlan): Promise<RemovalOutcome> {
    // The heir made a group with this title after the lookup below read its snapshot: once more,
    // on a fresh one, where that heir is passed over for the next.
    const outcome = await this.removing(chatId, userId, decide)
      .catch((error: unknown) => {
        if (isDuplicateKey(error, CHATS_OWNER_TITLE)) return this.removing(chatId, userId, decide);
        throw error;
      })
      .catch((error: unknown) => {
        if (isDuplicateKey(error, CHATS_OWNER_TITLE)) throw noSuccessorCanOwn();
        throw error;
      });
    // As in delete: the history goes after the commit.
    if (outcome.deleted) this.purges.start(chatId);
    return outcome;
  }

  private removing(chatId: string, userId: string, decide: (members: Member[]) => RemovalPlan): Promise<RemovalOutcome> {
    return inTransaction(this.connection, async (session) => {
      const chat = await this.claim(chatId, session, { title: 1, titleLower: 1, lastSeq: 1, version: 1 });
      if (!chat) throw chatNotFound();
      const members = await this.members(chatId, session);
      const plan = decide(members);
      if (plan.deleteChat) {
        await this.chats.deleteOne({ _id: chatId }, { session });
        await this.memberships.deleteMany({ chatId }, { session });
        await this.purges.note(chatId, chat.lastSeq, session);
        return { deleted: true, remaining: [], lastSeq: 0, version: 0 };
      }
      const now = new Date();
      if (plan.successors.length > 0) {
        // A duplicate key would abort the whole transaction, so the title clash is looked up first.
        let heir: string | undefined;
        for (const successor of plan.successors) {
          if (!members.some((m) => m.userId === successor)) throw memberNotFound();
          const clash = await this.chats
            .exists({
              ownerId: successor,
              titleLower: { $eq: chat.titleLower ?? (chat.title ?? '').toLowerCase() },
              type: 'group',
              _id: { $ne: chatId },
            })
            .session(session);
          if (!clash) {
            heir = successor;
            break;
          }
        }
        if (!heir) throw noSuccessorCanOwn();
        await this.chats.updateOne({ _id: chatId }, { $set: { ownerId: heir } }, { session });
        await this.memberships.updateMany({ chatId, role: 'owner' }, { $set: { role: 'admin' } }, { session });
        await this.memberships.updateOne({ _id: memberKey(chatId, heir) }, { $set: { role: 'owner' } }, { session });
      }
      const { modifiedCount } = await this.chats.updateOne(
        { _id: chatId, memberIds: userId },
        { $pull: { memberIds: userId }, $set: { updatedAt: now }, $max: { lastActivityAt: now }, $inc: { version: 1 } },
        { session },
      );
      if (modifiedCount !== 1) throw memberNotFound();
      await this.memberships.deleteOne({ _id: memberKey(chatId, userId) }, { session });
      // A send in between would write the chat record too and conflict: lastSeq (and the chat's
      // version) are as of the removal.
      return {
        deleted: false,
        remaining: members.map((m) => m.userId).filter((id) => id !== userId),
        lastSeq: chat.lastSeq,
        version: (chat.version ?? 0) + 1,
      };
    });
  }

  async setRole(chatId: string, userId: string, role: MemberRole, check: ActorCheck): Promise<void> {
    try {
      await inTransaction(this.connection, async (session) => {
        const now = new Date();
        // The member, in the chat record that every membership change writes: a concurrent
        // removal conflicts with the writes below, and the retry finds them gone.
        const chat = await this.claim(chatId, session, { memberIds: 1 });
        if (!chat) throw chatNotFound();
        await this.checkActor(chatId, check, session);
        if (!chat.memberIds.includes(userId)) throw memberNotFound();
        if (role === 'owner') {
          // First, so a clash with a group the new owner already owns aborts before anything else.
          await this.chats.updateOne(
            { _id: chatId },
            { $set: { ownerId: userId, updatedAt: now }, $max: { lastActivityAt: now }, $inc: { version: 1 } },
            { session },
          );
          await this.memberships.updateMany({ chatId, role: 'owner' }, { $set: { role: 'admin' } }, { session });
        } else {
          await this.chats.updateOne(
            { _id: chatId },
            { $set: { updatedAt: now }, $max: { lastActivityAt: now }, $inc: { version: 1 } },
            { session },
          );
        }
        await this.memberships.updateOne({ _id: memberKey(chatId, userId) }, { $set: { role } }, { session });
      });
    } catch (error) {
      if (isDuplicateKey(error, CHATS_OWNER_TITLE)) throw newOwnerTitleTaken();
      throw error;
    }
  }

  /**
   * The first step of every change to a chat: reads its record and writes it (`claims`, counted
   * for nothing else), so that from here to the commit the record is this transaction's. A
   * transaction that read first and wrote several round trips later would find the record changed
   * by a send in between and run again, and in a chat busy with sends it could run again and
   * again until the driver gives up (120 s); this way the sends are the ones that wait and retry,
   * a few milliseconds, as they queue behind the chat's row lock on PostgreSQL. Undefined when the
   * chat is gone.
   */
  private async claim(chatId: string, session: ClientSession, projection?: Record<string, 1>): Promise<ChatRecord | undefined> {
    const record = await this.chats
      .findOneAndUpdate({ _id: chatId }, { $inc: { claims: 1 } }, { session, projection, returnDocument: 'after' })
      .lean<ChatRecord>();
    return record ?? undefined;
  }

  /**
   * A change's permission check, on the actor's membership in this transaction's snapshot. Every
   * change to a chat writes its record, so one that committed since (a demotion, a removal)
   * conflicts with this transaction's write, and the retry checks again on what it left.
   */
  private async checkActor(chatId: string, check: ActorCheck, session: ClientSession): Promise<void> {
    const record = await this.memberships.findById(memberKey(chatId, check.actorId), null, { session }).lean<MemberRecord>();
    check.allow(record ? toMember(record) : undefined);
  }

  async contactsOf(userId: string): Promise<string[]> {
    const ids = (await this.chats.distinct('memberIds', { memberIds: userId })) as string[];
    return ids.filter((id) => id !== userId);
  }

  async directChatsOf(userId: string): Promise<Array<{ chat: Chat; peerId: string }>> {
    const rows = await this.chats.find({ memberIds: userId, type: 'direct' }).lean<ChatRecord[]>();
    return rows.flatMap((row) => {
      const peerId = row.memberIds.find((id) => id !== userId);
      return peerId ? [{ chat: toChat(row), peerId }] : [];
    });
  }
}

/**
 * `$type` repeats the unique index's partial filter: MongoDB uses a partial index only for a
 * query that implies its filter, and an equality on a string does not count as implying
 * `$type: 'string'`. Without it the lookup reads every chat.
 */
function byDirectKey(key: string) {
  return { directKey: { $eq: key, $type: 'string' as const } };
}
