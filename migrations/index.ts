import type { MigrationInterface } from 'typeorm';
import { Accounts1763700000000 } from './1763700000000-accounts.js';
import { CreateMailLog1795290040869 } from './1795290040869-create-mail-log.js';
import { Conversations1795300000000 } from './1795300000000-conversations.js';
import { AppendMessagesFunction1795400000000 } from './1795400000000-append-messages-function.js';
import { AppendMessagesAfterChatLocks1795500000000 } from './1795500000000-append-messages-after-chat-locks.js';
import { MailLogByUser1795600000000 } from './1795600000000-mail-log-by-user.js';
import { EmailsInOneForm1795700000000 } from './1795700000000-emails-in-one-form.js';
import { MembersJoinedSeq1795800000000 } from './1795800000000-members-joined-seq.js';
import { NamesAndTitlesInNfc1795900000000 } from './1795900000000-names-and-titles-in-nfc.js';
import { ExpiryIndexes1796000000000 } from './1796000000000-expiry-indexes.js';
import { MailLogByAge1796100000000 } from './1796100000000-mail-log-by-age.js';
import { ReadsAtScale1796200000000 } from './1796200000000-reads-at-scale.js';
import { ChatPurges1796300000000 } from './1796300000000-chat-purges.js';
import { MailWaitsForServer1796400000000 } from './1796400000000-mail-waits-for-server.js';
import { ChatMembersVersion1796500000000 } from './1796500000000-chat-members-version.js';
import { ChatVersion1796600000000 } from './1796600000000-chat-version.js';
import { AvatarDiscards1796700000000 } from './1796700000000-avatar-discards.js';

/**
 * Every migration, oldest first. Listed by hand rather than found by a glob so the same list
 * works compiled, under ts-jest and in the CLI.
 */
export const MIGRATIONS: Array<new () => MigrationInterface> = [
  Accounts1763700000000,
  CreateMailLog1795290040869,
  Conversations1795300000000,
  AppendMessagesFunction1795400000000,
  AppendMessagesAfterChatLocks1795500000000,
  MailLogByUser1795600000000,
  EmailsInOneForm1795700000000,
  MembersJoinedSeq1795800000000,
  NamesAndTitlesInNfc1795900000000,
  ExpiryIndexes1796000000000,
  MailLogByAge1796100000000,
  ReadsAtScale1796200000000,
  ChatPurges1796300000000,
  MailWaitsForServer1796400000000,
  ChatMembersVersion1796500000000,
  ChatVersion1796600000000,
  AvatarDiscards1796700000000,
];
