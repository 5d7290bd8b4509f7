import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiBody,
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { type AuthUser, CurrentUser } from '../../common/auth/auth-user.js';
import { uuidParam } from '../../common/pipes/uuid.pipe.js';
import { UserRateLimit } from '../../common/rate-limit/user-rate-limit.guard.js';
import { UserRateLimiter } from '../../common/rate-limit/user-rate-limiter.js';
import { ChatsService } from './chats.service.js';
import { AddMembersCommand, type AddMembersResult } from './commands/add-members.command.js';
import { ChangeRoleCommand } from './commands/change-role.command.js';
import { CreateChatCommand, type CreateChatResult } from './commands/create-chat.command.js';
import { DeleteChatCommand } from './commands/delete-chat.command.js';
import { RemoveMemberCommand } from './commands/remove-member.command.js';
import { RenameChatCommand } from './commands/rename-chat.command.js';
import {
  AddMembersDto,
  ChangeRoleDto,
  ChatDetailDto,
  ChatPageDto,
  CreateChatDto,
  CreateDirectChatBody,
  CreateGroupChatBody,
  ListChatsQuery,
  UpdateChatDto,
} from './dto/chat.dto.js';

@ApiTags('chats')
@ApiBearerAuth('bearer')
@ApiCookieAuth('cookie')
@Controller('chats')
export class ChatsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly chats: ChatsService,
    private readonly limits: UserRateLimiter,
  ) {}

  @Post()
  @UserRateLimit('chats')
  @ApiOperation({
    operationId: 'createChat',
    summary: 'Start a direct chat (201 created, 200 when it already existed) or create a group (201)',
  })
  // Two shapes, told apart by `type`, so that a generated client types each (validation is CreateChatDto's).
  @ApiExtraModels(CreateDirectChatBody, CreateGroupChatBody)
  @ApiBody({
    schema: {
      oneOf: [{ $ref: getSchemaPath(CreateDirectChatBody) }, { $ref: getSchemaPath(CreateGroupChatBody) }],
      discriminator: {
        propertyName: 'type',
        mapping: { direct: getSchemaPath(CreateDirectChatBody), group: getSchemaPath(CreateGroupChatBody) },
      },
    },
    // Swagger UI's own sample would mix the two shapes, which is refused: one example of each.
    examples: {
      direct: { summary: 'A direct chat with another user', value: { type: 'direct', userId: '3fa85f64-5717-4562-b3fc-2c963f66afa6' } },
      group: { summary: 'A group, with members besides you', value: { type: 'group', title: 'Team', memberIds: [] } },
    },
  })
  @ApiCreatedResponse({ type: ChatDetailDto })
  @ApiOkResponse({ type: ChatDetailDto, description: 'The direct chat already existed' })
  async create(
    @CurrentUser() caller: AuthUser,
    @Body() body: CreateChatDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ChatDetailDto> {
    const result = await this.commands.execute<CreateChatCommand, CreateChatResult>(new CreateChatCommand(caller.userId, body));
    // Opening a direct chat that exists (the chat page does it each time someone is picked from a
    // search) puts nothing new in front of anyone: it costs no token.
    if (!result.created) this.limits.giveBack('chats', caller.userId);
    res.status(result.created ? 201 : 200);
    return result.chat;
  }

  @Get()
  @ApiOperation({ operationId: 'listChats', summary: 'Your chats, most recent activity first' })
  @ApiOkResponse({ type: ChatPageDto })
  list(@CurrentUser() caller: AuthUser, @Query() query: ListChatsQuery): Promise<ChatPageDto> {
    return this.chats.list(caller.userId, query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getChat', summary: 'A chat with its members' })
  @ApiOkResponse({ type: ChatDetailDto })
  get(@CurrentUser() caller: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<ChatDetailDto> {
    return this.chats.detail(id, caller.userId);
  }

  @Patch(':id')
  @ApiOperation({ operationId: 'renameChat', summary: 'Rename a group (owner or admin)' })
  @ApiOkResponse({ type: ChatDetailDto })
  rename(@CurrentUser() caller: AuthUser, @Param('id', uuidParam('id')) id: string, @Body() body: UpdateChatDto): Promise<ChatDetailDto> {
    return this.commands.execute(new RenameChatCommand(caller.userId, id, body.title));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteChat', summary: 'Delete a group and its messages (owner)' })
  @ApiNoContentResponse()
  remove(@CurrentUser() caller: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<void> {
    return this.commands.execute(new DeleteChatCommand(caller.userId, id));
  }

  @Post(':id/members')
  @UserRateLimit('chats')
  @ApiOperation({
    operationId: 'addChatMembers',
    summary: 'Add members to a group (owner or admin): 201 when someone came in, 200 when all were members already',
  })
  @ApiCreatedResponse({ type: ChatDetailDto })
  @ApiOkResponse({ type: ChatDetailDto, description: 'Everyone named was a member already: nothing changed' })
  async addMembers(
    @CurrentUser() caller: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: AddMembersDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ChatDetailDto> {
    const result = await this.commands.execute<AddMembersCommand, AddMembersResult>(new AddMembersCommand(caller.userId, id, body.userIds));
    // As a direct chat that existed: nothing new in front of anyone, no token spent.
    if (result.added.length === 0) this.limits.giveBack('chats', caller.userId);
    res.status(result.added.length > 0 ? 201 : 200);
    return result.chat;
  }

  @Delete(':id/members/:userId')
  @HttpCode(204)
  @ApiOperation({ operationId: 'removeChatMember', summary: 'Remove a member (owner or admin), or leave (yourself)' })
  @ApiNoContentResponse()
  removeMember(
    @CurrentUser() caller: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('userId', uuidParam('userId')) userId: string,
  ): Promise<void> {
    return this.commands.execute(new RemoveMemberCommand(caller.userId, id, userId));
  }

  @Patch(':id/members/:userId')
  @ApiOperation({ operationId: 'changeMemberRole', summary: "Change a member's role (owner); giving `owner` hands the group over" })
  @ApiOkResponse({ type: ChatDetailDto })
  changeRole(
    @CurrentUser() caller: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('userId', uuidParam('userId')) userId: string,
    @Body() body: ChangeRoleDto,
  ): Promise<ChatDetailDto> {
    return this.commands.execute(new ChangeRoleCommand(caller.userId, id, userId, body.role));
  }
}
