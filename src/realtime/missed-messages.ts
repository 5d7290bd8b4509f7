/**
 * Reads from the store what a connection missed of a chat's messages, for a gap in its live
 * stream that waiting did not fill (see StreamTracker). The messages module provides it; without
 * it a gap is only waited for.
 */
export abstract class MissedMessages {
  /**
   * The `new_message` frames of the chat's messages after `afterSeq` up to `upToSeq`, oldest
   * first, as `userId` may see them: refused (thrown) when they are not a member.
   */
  abstract read(userId: string, chatId: string, afterSeq: number, upToSeq: number): Promise<Array<{ seq: number; frame: string }>>;
}
