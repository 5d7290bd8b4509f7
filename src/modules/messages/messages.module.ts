import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module.js';
import { DeleteMessageHandler } from './commands/delete-message.handler.js';
import { EditMessageHandler } from './commands/edit-message.handler.js';
import { MarkReadHandler } from './commands/mark-read.handler.js';
import { MessageChangeQueue } from './commands/message-change-queue.js';
import { SendMessageHandler } from './commands/send-message.handler.js';
import { messageStoreProvider } from '../../database/message-store.provider.js';
import { MongoMessageRepository } from './infrastructure/persistence/mongo/mongo-message.repository.js';
import { TypeormMessageRepository } from './infrastructure/persistence/typeorm/typeorm-message.repository.js';
import { MessageRepository } from './message.repository.js';
import { MessagesController } from './messages.controller.js';
import { MessagesGateway } from './messages.gateway.js';
import { MessagesService } from './messages.service.js';
import { SeenAfterRemovalHandler } from './handlers/seen-after-removal.handler.js';
import { MessageEventsToSockets } from './realtime/message-events.handler.js';
import { MissedMessages } from '../../realtime/missed-messages.js';
import { MissedMessagesReader } from './realtime/missed-messages.reader.js';
import { SeenNotices } from './seen-notices.js';

@Module({
  imports: [ChatsModule],
  controllers: [MessagesController],
  providers: [
    // MESSAGE_STORE picks the store: PostgreSQL (the default) or MongoDB, the same as for chats.
    messageStoreProvider(MessageRepository, {
      postgres: (dataSource) => new TypeormMessageRepository(dataSource),
      mongo: (connection) => MongoMessageRepository.open(connection),
    }),
    MessagesService,
    SendMessageHandler,
    MessageChangeQueue,
    EditMessageHandler,
    DeleteMessageHandler,
    MarkReadHandler,
    SeenAfterRemovalHandler,
    SeenNotices,
    MessageEventsToSockets,
    { provide: MissedMessages, useClass: MissedMessagesReader },
    MessagesGateway,
  ],
  exports: [MessageRepository, MessagesService],
})
export class MessagesModule {}
