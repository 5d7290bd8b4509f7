import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ConflictError } from '../../../common/errors/domain-error.js';
import { ChatRepository } from '../../chats/chat.repository.js';
import { SendMessageCommand } from '../../messages/commands/send-message.command.js';
import { type SeedContext, SeedStep, type SeedStepReport } from '../seed-step.js';

export const SEED_GROUP_TITLE = 'Parley team';
/** The seed group's id is fixed, so a later run finds it however it has been renamed since. */
export const SEED_GROUP_ID = '5eed0000-0000-4000-8000-000000000001';

const GROUP_MESSAGES: Array<[string, string]> = [
  ['admin@admin.ru', 'Welcome to Parley! This group has every seed account in it.'],
  ['user1@example.com', 'Hi all 👋'],
  ['user2@example.com', 'Try opening /ui in two browsers and chat with yourself.'],
];
const DIRECT_MESSAGES: Array<[string, string]> = [
  ['admin@admin.ru', 'Hey User One, this is a direct chat.'],
  ['user1@example.com', 'Got it. Read ticks turn blue once you have read this.'],
];

/**
 * A group of all seed accounts owned by admin, and a direct chat between admin and user1, each
 * with a few messages. Found again on later runs (the group by its fixed id, whatever its title
 * has become; the direct chat by its pair), and messages are only written into a chat this run
 * created. A seed group someone deleted comes back on the next LOCAL start.
 */
@Injectable()
export class ChatsSeedStep extends SeedStep {
  readonly name = 'chats';

  constructor(
    private readonly chats: ChatRepository,
    private readonly commands: CommandBus,
  ) {
    super();
  }

  async run(context: SeedContext): Promise<SeedStepReport> {
    const report: SeedStepReport = { created: [], existing: [] };
    const id = (email: string): string => {
      const user = context.users.get(email);
      if (!user) throw new Error(`The chats seed step needs the seed account ${email}; the users step did not provide it.`);
      return user.id;
    };
    const admin = id('admin@admin.ru');

    if (await this.chats.findById(SEED_GROUP_ID)) {
      report.existing.push(SEED_GROUP_TITLE);
    } else {
      try {
        const others = [...context.users.values()].map((u) => u.id).filter((u) => u !== admin);
        const group = await this.chats.createGroup({ id: SEED_GROUP_ID, title: SEED_GROUP_TITLE, ownerId: admin }, others);
        await this.say(group.id, GROUP_MESSAGES, id);
        report.created.push(SEED_GROUP_TITLE);
      } catch (error) {
        // Another instance seeding at the same moment made it first (or admin already owns a group of that title).
        const taken = error instanceof ConflictError && error.code === 'CHAT_TITLE_TAKEN';
        if (!taken && !(await this.chats.findById(SEED_GROUP_ID))) throw error;
        report.existing.push(SEED_GROUP_TITLE);
      }
    }

    const { chat: direct, created } = await this.chats.findOrCreateDirect(randomUUID(), admin, id('user1@example.com'));
    if (created) await this.say(direct.id, DIRECT_MESSAGES, id);
    (created ? report.created : report.existing).push('direct admin@admin.ru ↔ user1@example.com');
    return report;
  }

  private async say(chatId: string, lines: Array<[string, string]>, id: (email: string) => string): Promise<void> {
    for (const [email, text] of lines) await this.commands.execute(new SendMessageCommand(id(email), chatId, text, null));
  }
}
