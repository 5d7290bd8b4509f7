import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { CookieOptions, Request, Response } from 'express';
import { type AuthUser, CurrentUser } from '../../common/auth/auth-user.js';
import { Public } from '../../common/auth/public.decorator.js';
import { ReadsBodyByHand } from '../../common/http/json-body.guard.js';
import { TakesAnyQuery } from '../../common/http/query-params.guard.js';
import { uuidParam } from '../../common/pipes/uuid.pipe.js';
import { AppConfig } from '../../config/app-config.js';
import { MeDto } from '../users/dto/user.dto.js';
import { AuthService, type ClientInfo } from './auth.service.js';
import { EmailLinksService } from './email-links.service.js';
import {
  AuthResultDto,
  ForgotPasswordDto,
  RefreshDto,
  ResetPasswordDto,
  SessionDto,
  SignInDto,
  SignUpDto,
  TokenDto,
} from './dto/auth.dto.js';
import { IpRateLimitGuard } from './ip-rate-limit.guard.js';
import { ACCESS_COOKIE, REFRESH_COOKIE } from './jwt.strategy.js';
import { bearerToken } from '../../common/auth/bearer.js';

/** The refresh cookie goes only to the auth routes (the global prefix plus this controller's path). */
const REFRESH_COOKIE_PATH = '/api/v1/auth';

/** Sign-in and refresh answer with the pair in the body and set it as httpOnly cookies too. */
const SETS_AUTH_COOKIES = {
  'Set-Cookie': {
    description: `${ACCESS_COOKIE} (path /) and ${REFRESH_COOKIE} (path ${REFRESH_COOKIE_PATH}): httpOnly, SameSite=Lax, Secure outside LOCAL`,
    schema: { type: 'string' },
  },
};

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly links: EmailLinksService,
    private readonly config: AppConfig,
  ) {}

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('sign-up')
  @ApiOperation({ operationId: 'signUp', summary: 'Create an account; sends a confirmation email' })
  @ApiCreatedResponse({ type: MeDto })
  signUp(@Body() body: SignUpDto): Promise<MeDto> {
    return this.auth.signUp(body);
  }

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('sign-in')
  @HttpCode(200)
  @ApiOperation({ operationId: 'signIn', summary: 'Sign in; returns tokens and sets the access_token and refresh_token cookies' })
  @ApiOkResponse({ type: AuthResultDto, headers: SETS_AUTH_COOKIES })
  @ApiTooManyRequestsResponse({ description: 'Too many attempts (Retry-After says when to retry)' })
  async signIn(@Body() body: SignInDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<AuthResultDto> {
    const result = await this.auth.signIn(body, clientInfo(req));
    this.setCookies(res, result);
    return result;
  }

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'refreshTokens',
    summary: 'Trade a refresh token (body or cookie) for a new pair; each refresh token works once',
  })
  @ApiOkResponse({ type: AuthResultDto, headers: SETS_AUTH_COOKIES })
  @ApiBody({ type: RefreshDto, required: false, description: 'Leave out to use the refresh_token cookie' })
  async refresh(@Body() body: RefreshDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<AuthResultDto> {
    const token = body.refreshToken ?? (req.cookies as Record<string, string> | undefined)?.[REFRESH_COOKIE];
    const result = await this.auth.refresh(token, clientInfo(req));
    this.setCookies(res, result);
    return result;
  }

  @Public()
  @Post('sign-out')
  @HttpCode(204)
  @ReadsBodyByHand()
  @TakesAnyQuery()
  @ApiBearerAuth('bearer')
  @ApiCookieAuth('cookie')
  @ApiOperation({
    operationId: 'signOut',
    summary: 'End the current session and clear the cookies',
    description:
      'Works without a valid access token: identifies the session by the access token (bearer or access_token cookie), or, once that has expired, by the refresh token (refreshToken in the body, or the refresh_token cookie).',
  })
  @ApiBody({ type: RefreshDto, required: false })
  @ApiNoContentResponse()
  async signOut(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    // Cleared whatever happens next: a client signing out wants them gone. The body is read by
    // hand, not validated: a stray field must not keep anyone signed in.
    this.clearCookies(res);
    const cookies = (req.cookies as Record<string, string> | undefined) ?? {};
    const bearer = bearerToken(req.headers.authorization);
    const fromBody = (req.body as { refreshToken?: unknown } | undefined)?.refreshToken;
    await this.auth.signOut({
      accessToken: bearer ?? cookies[ACCESS_COOKIE],
      refreshToken: typeof fromBody === 'string' ? fromBody : cookies[REFRESH_COOKIE],
    });
  }

  @Get('sessions')
  @ApiBearerAuth('bearer')
  @ApiCookieAuth('cookie')
  @ApiOperation({ operationId: 'listSessions', summary: 'Your live sessions (devices)' })
  @ApiOkResponse({ type: [SessionDto] })
  sessions(@CurrentUser() caller: AuthUser): Promise<SessionDto[]> {
    return this.auth.listSessions(caller);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  @ApiBearerAuth('bearer')
  @ApiCookieAuth('cookie')
  @ApiOperation({ operationId: 'revokeSession', summary: 'End one of your sessions; its tokens stop working at once' })
  @ApiNoContentResponse()
  revoke(@CurrentUser() caller: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<void> {
    return this.auth.revokeSession(caller, id);
  }

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('confirm-email')
  @HttpCode(204)
  @ApiOperation({ operationId: 'confirmEmail', summary: 'Confirm the email address with the token from the email' })
  @ApiNoContentResponse()
  confirmEmail(@Body() body: TokenDto): Promise<void> {
    return this.links.confirmEmail(body.token);
  }

  @UseGuards(IpRateLimitGuard)
  @Post('confirm-email/resend')
  @HttpCode(202)
  @ApiBearerAuth('bearer')
  @ApiCookieAuth('cookie')
  @ApiOperation({
    operationId: 'resendConfirmationEmail',
    summary: "Email a new confirmation link to the caller's unconfirmed address (older links stop working)",
  })
  @ApiAcceptedResponse()
  resendConfirmation(@CurrentUser() caller: AuthUser): Promise<void> {
    return this.links.resendConfirmation(caller.userId);
  }

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('password/forgot')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'forgotPassword',
    summary: 'Email a password reset link; answers 202 whether or not the email has an account',
  })
  @ApiAcceptedResponse()
  forgot(@Body() body: ForgotPasswordDto): Promise<void> {
    return this.links.forgotPassword(body.email);
  }

  @Public()
  @UseGuards(IpRateLimitGuard)
  @Post('password/reset')
  @HttpCode(204)
  @ApiOperation({ operationId: 'resetPassword', summary: 'Set a new password with the token from the email; ends every session' })
  @ApiNoContentResponse()
  reset(@Body() body: ResetPasswordDto): Promise<void> {
    return this.links.resetPassword(body.token, body.password);
  }

  private cookieOptions(): CookieOptions {
    return { httpOnly: true, sameSite: 'lax', secure: !this.config.isLocal, path: '/' };
  }

  private setCookies(res: Response, result: AuthResultDto): void {
    const base = this.cookieOptions();
    res.cookie(ACCESS_COOKIE, result.accessToken, Object.assign({}, base, { maxAge: this.config.auth.accessTtlSeconds * 1000 }));
    res.cookie(
      REFRESH_COOKIE,
      result.refreshToken,
      Object.assign({}, base, { path: REFRESH_COOKIE_PATH, maxAge: this.config.auth.refreshTtlSeconds * 1000 }),
    );
  }

  private clearCookies(res: Response): void {
    const base = this.cookieOptions();
    res.clearCookie(ACCESS_COOKIE, base);
    res.clearCookie(REFRESH_COOKIE, Object.assign({}, base, { path: REFRESH_COOKIE_PATH }));
  }
}

function clientInfo(req: Request): ClientInfo {
  return { ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null };
}
