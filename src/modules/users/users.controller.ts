import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Put,
  Query,
  Res,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCookieAuth,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { type AuthUser, CurrentUser } from '../../common/auth/auth-user.js';
import { uuidParam } from '../../common/pipes/uuid.pipe.js';
import { UserRateLimit } from '../../common/rate-limit/user-rate-limit.guard.js';
import { UserRateLimiter } from '../../common/rate-limit/user-rate-limiter.js';
import { AvatarUploadInterceptor, type UploadedImage } from './avatar-upload.interceptor.js';
import { AvatarsService } from './avatars.service.js';
import { AvatarUploadDto, MeDto, PublicUserDto, PublicUserPageDto, SearchUsersQuery, UpdateMeDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

/** A year: the longest lifetime caches honour, for avatar URLs whose `v` names the exact image. */
const VERSIONED_CACHE = 'private, max-age=31536000, immutable';
/** Without the current `v` the URL may show another image tomorrow: cache, but ask every time. */
const UNVERSIONED_CACHE = 'private, no-cache';

/** What both avatar GETs answer: the image, with its caching, or 304 to a cache that holds it. */
function AvatarImageResponses(): MethodDecorator {
  const headers = {
    ETag: { description: 'Names this image: send it back in If-None-Match', schema: { type: 'string' } },
    'Cache-Control': {
      description: `"${VERSIONED_CACHE}" when v is the current version, else "${UNVERSIONED_CACHE}"`,
      schema: { type: 'string' },
    },
  };
  return applyDecorators(
    ApiQuery({ name: 'v', required: false, type: String, description: 'The version from avatarUrl' }),
    ApiHeader({ name: 'If-None-Match', required: false, description: 'The ETag of the image a cache holds' }),
    ApiProduces('image/png', 'image/jpeg', 'image/webp', 'image/gif'),
    ApiOkResponse({ schema: { type: 'string', format: 'binary' }, headers }),
    ApiResponse({ status: 304, description: 'Not Modified: If-None-Match names the current image; no body', headers }),
  );
}

@ApiTags('users')
@ApiBearerAuth('bearer')
@ApiCookieAuth('cookie')
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly avatars: AvatarsService,
    private readonly limits: UserRateLimiter,
  ) {}

  @Get('me')
  @ApiOperation({ operationId: 'getMe', summary: 'The signed-in user' })
  @ApiOkResponse({ type: MeDto })
  me(@CurrentUser() caller: AuthUser): Promise<MeDto> {
    return this.users.me(caller.userId);
  }

  @Patch('me')
  @UserRateLimit('uploads')
  @ApiOperation({ operationId: 'updateMe', summary: 'Change your display name (the people you have direct chats with are told)' })
  @ApiOkResponse({ type: MeDto })
  async update(@CurrentUser() caller: AuthUser, @Body() body: UpdateMeDto): Promise<MeDto> {
    const { me, changed } = await this.users.rename(caller.userId, body.name);
    // The name it was already: nothing stored or told, so no token spent.
    if (!changed) this.limits.giveBack('uploads', caller.userId);
    return me;
  }

  @Put('me/avatar')
  @UserRateLimit('uploads')
  @UseInterceptors(AvatarUploadInterceptor)
  @ApiOperation({ operationId: 'uploadAvatar', summary: 'Upload your avatar (replaces the previous one)' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: AvatarUploadDto })
  @ApiOkResponse({ type: MeDto, description: 'The updated profile; avatarUrl points at the new image' })
  @ApiBadRequestResponse({ description: 'No file, or parts besides "file"' })
  @ApiPayloadTooLargeResponse({ description: 'FILE_TOO_LARGE: over 5 MiB, or over 8192 pixels a side or 40 megapixels' })
  @ApiUnsupportedMediaTypeResponse({
    description: 'UNSUPPORTED_MEDIA_TYPE: the content is not PNG, JPEG, WebP or GIF, or its header is cut short',
  })
  uploadAvatar(@CurrentUser() caller: AuthUser, @UploadedFile() file: UploadedImage | undefined): Promise<MeDto> {
    return this.avatars.upload(caller.userId, file?.buffer);
  }

  @Delete('me/avatar')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteAvatar', summary: 'Remove your avatar' })
  @ApiNoContentResponse()
  removeAvatar(@CurrentUser() caller: AuthUser): Promise<void> {
    return this.avatars.remove(caller.userId);
  }

  @Get()
  @UserRateLimit('search')
  @ApiOperation({
    operationId: 'searchUsers',
    summary: 'Find users whose name starts with `query`, or whose confirmed email is `query` (whole, any case)',
  })
  @ApiOkResponse({ type: PublicUserPageDto })
  search(@Query() query: SearchUsersQuery): Promise<PublicUserPageDto> {
    return this.users.search(query.query, query.limit, query.cursor);
  }

  @Get('me/avatar')
  @ApiOperation({ operationId: 'getMyAvatar', summary: 'Your avatar image', description: 'As GET /users/{id}/avatar with your own id.' })
  @AvatarImageResponses()
  @ApiNotFoundResponse({ description: 'AVATAR_NOT_FOUND: you have no avatar' })
  myAvatar(@CurrentUser() caller: AuthUser, @Query('v') version: string | undefined, @Res() res: Response): Promise<void> {
    return this.avatar(caller.userId, version, res);
  }

  // Two path segments, so it never competes with GET :id below. After me/avatar, which it would take.
  @Get(':id/avatar')
  @ApiOperation({
    operationId: 'getUserAvatar',
    summary: "A user's avatar image",
    description:
      'Use the avatarUrl of a profile: its `v` names the image, and such a response may be cached for a year. Browsers send the access_token cookie with <img src>.',
  })
  @AvatarImageResponses()
  @ApiNotFoundResponse({ description: 'AVATAR_NOT_FOUND: the user has no avatar' })
  async avatar(@Param('id', uuidParam('id')) id: string, @Query('v') version: string | undefined, @Res() res: Response): Promise<void> {
    const image = await this.avatars.read(id);
    res.set({
      'Content-Type': image.contentType,
      'Cache-Control': version === image.version ? VERSIONED_CACHE : UNVERSIONED_CACHE,
      ETag: image.etag,
      'X-Content-Type-Options': 'nosniff',
      // Opened directly, the image is a document: it gets no scripts and no other resources.
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
    // send() answers 304 by itself when If-None-Match carries this ETag.
    res.send(image.body);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getUser', summary: "A user's public profile" })
  @ApiOkResponse({ type: PublicUserDto })
  profile(@Param('id', uuidParam('id')) id: string): Promise<PublicUserDto> {
    return this.users.publicProfile(id);
  }
}
