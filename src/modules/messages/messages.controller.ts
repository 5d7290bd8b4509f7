import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiBody,
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { type AuthUser, CurrentUser } from '../../common/auth/auth-user.js';
import { uuidParam } from '../../common/pipes/uuid.pipe.js';
import { UserRateLimit } from '../../common/rate-limit/user-rate-limit.guard.js';
import { UserRateLimiter } from '../../common/rate-limit/user-rate-limiter.js';
import { DeleteMessageCommand } from './commands/delete-message.command.js';
import { EditMessageCommand } from './commands/edit-message.command.js';
import { MarkReadCommand } from './commands/mark-read.command.js';
import { SendMessageCommand, type SendMessageResult } from './commands/send-message.command.js';
import type { Message } from './domain/message.js';
import { MessageDto, toMessageDto } from './dto/message.dto.js';
import {
  EditMessageDto,
  HistoryQueryDto,
  MarkReadDto,
  MessagePageDto,
  MessageReaderDto,
  SendMessageDto,
} from './dto/message-requests.dto.js';
import { MessagesService } from './messages.service.js';

@ApiTags('messages')
@ApiBearerAuth('bearer')
@ApiCookieAuth('cookie')
@Controller('chats/:chatId')
export class MessagesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly messages: MessagesService,
    private readonly limits: UserRateLimiter,
  ) {}

  @Post('messages')
  @UserRateLimit('messages')
  @ApiOperation({
    operationId: 'sendMessage',
    summary: 'Send a message (201); repeating a clientId returns the original (200) and stores nothing',
  })
  @ApiBody({
    type: SendMessageDto,
    // Not Swagger UI's own sample, whose clientId is the same fixed UUID each time: a second send
    // of it would store nothing (the first answered again), and in another chat be refused.
    examples: {
      plain: { summary: 'A message (add a clientId, a fresh UUID per message, to make retries safe)', value: { text: 'Hello!' } },
    },
  })
  @ApiCreatedResponse({ type: MessageDto })
  @ApiOkResponse({ type: MessageDto, description: 'The clientId was already used: the original message' })
  async send(
    @CurrentUser() caller: AuthUser,
    @Param('chatId', uuidParam('chatId')) chatId: string,
    @Body() body: SendMessageDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MessageDto> {
    const result = await this.commands.execute<SendMessageCommand, SendMessageResult>(
      // Lower-cased here rather than by a DTO transform, which would take sends off the validator's fast path.
      new SendMessageCommand(caller.userId, chatId, body.text, body.clientId?.toLowerCase() ?? null),
    );
    // A repeat of a stored send (a retry whose answer was lost) stores nothing: it costs no token.
    if (!result.created) this.limits.giveBack('messages', caller.userId);
    res.status(result.created ? 201 : 200);
    return toMessageDto(result.message);
  }

  @Get('messages')
  @ApiOperation({
    operationId: 'listMessages',
    summary: 'History: newest first; `before` pages back, `after` catches up (oldest first); `offset` adds `total`',
  })
  @ApiOkResponse({ type: MessagePageDto })
  history(@CurrentUser() caller: AuthUser, @Param('chatId', uuidParam('chatId')) chatId: string, @Query() query: HistoryQueryDto) {
    return this.messages.history(caller.userId, chatId, query);
  }

  @Patch('messages/:id')
  @UserRateLimit('messages')
  @ApiOperation({ operationId: 'editMessage', summary: 'Edit your message' })
  @ApiOkResponse({ type: MessageDto })
  async edit(
    @CurrentUser() caller: AuthUser,
    @Param('chatId', uuidParam('chatId')) chatId: string,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: EditMessageDto,
  ): Promise<MessageDto> {
    return toMessageDto(
      await this.commands.execute<EditMessageCommand, Message>(new EditMessageCommand(caller.userId, chatId, id, body.text)),
    );
  }

  @Delete('messages/:id')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'deleteMessage',
    summary: 'Delete a message (sender, or group owner/admin): it keeps its seq and loses its text',
  })
  @ApiNoContentResponse()
  remove(
    @CurrentUser() caller: AuthUser,
    @Param('chatId', uuidParam('chatId')) chatId: string,
    @Param('id', uuidParam('id')) id: string,
  ): Promise<void> {
    return this.commands.execute(new DeleteMessageCommand(caller.userId, chatId, id));
  }

  @Get('messages/:id/reads')
  @ApiOperation({ operationId: 'listMessageReaders', summary: 'Members other than the sender whose read pointer has reached this message' })
  @ApiOkResponse({ type: [MessageReaderDto] })
  reads(
    @CurrentUser() caller: AuthUser,
    @Param('chatId', uuidParam('chatId')) chatId: string,
    @Param('id', uuidParam('id')) id: string,
  ): Promise<MessageReaderDto[]> {
    return this.messages.readers(caller.userId, chatId, id);
  }

  @Post('read')
  @UserRateLimit('reads')
  @HttpCode(204)
  @ApiOperation({ operationId: 'markChatRead', summary: 'Move your read pointer forward to seq (never back)' })
  @ApiNoContentResponse()
  markRead(
    @CurrentUser() caller: AuthUser,
    @Param('chatId', uuidParam('chatId')) chatId: string,
    @Body() body: MarkReadDto,
  ): Promise<void> {
    return this.commands.execute(new MarkReadCommand(caller.userId, chatId, body.seq));
  }
}
