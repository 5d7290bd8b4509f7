import { Module } from '@nestjs/common';
import { messageStoreProvider } from '../../database/message-store.provider.js';
import { UsersModule } from '../users/users.module.js';
import { PresenceAudience } from '../../realtime/presence-audience.js';
import { ChatAccess } from './chat-access.js';
import { ChatPresenceAudience } from './chat-presence-audience.js';
import { ChatEventsToSockets } from './realtime/chat-events.handler.js';
import { DirectTitlesToSockets } from './realtime/direct-titles.handler.js';
import { ChatRepository } from './chat.repository.js';
import { ChatsController } from './chats.controller.js';
import { ChatsService } from './chats.service.js';
import { AddMembersHandler } from './commands/add-members.handler.js';
import { ChangeRoleHandler } from './commands/change-role.handler.js';
import { CreateChatHandler } from './commands/create-chat.handler.js';
import { DeleteChatHandler } from './commands/delete-chat.handler.js';
import { RemoveMemberHandler } from './commands/remove-member.handler.js';
import { RenameChatHandler } from './commands/rename-chat.handler.js';
import { MongoChatRepository } from './infrastructure/persistence/mongo/mongo-chat.repository.js';
import { TypeormChatRepository } from './infrastructure/persistence/typeorm/typeorm-chat.repository.js';

@Module({
  imports: [UsersModule],
  controllers: [ChatsController],
  providers: [
    // MESSAGE_STORE picks the store: PostgreSQL (the default) or MongoDB.
    messageStoreProvider(ChatRepository, {
      postgres: (dataSource) => new TypeormChatRepository(dataSource),
      mongo: (connection) => MongoChatRepository.open(connection),
    }),
    ChatAccess,
    ChatsService,
    CreateChatHandler,
    RenameChatHandler,
    DeleteChatHandler,
    AddMembersHandler,
    RemoveMemberHandler,
    ChangeRoleHandler,
    ChatEventsToSockets,
    DirectTitlesToSockets,
    { provide: PresenceAudience, useClass: ChatPresenceAudience },
  ],
  exports: [ChatRepository, ChatAccess, ChatsService],
})
export class ChatsModule {}
