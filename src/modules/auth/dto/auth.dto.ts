import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { EmailForm } from '../../../common/validation/transforms.js';
import { LabelField } from '../../../common/validation/visible-text.js';
import { NAME_MAX_LENGTH } from '../../users/domain/user.js';
import { MeDto } from '../../users/dto/user.dto.js';
import { HAS_DIGIT, HAS_LETTER, PASSWORD_MAX, PASSWORD_MIN } from '../domain/password-rules.js';

function PasswordRules(): PropertyDecorator {
  return (target, key) => {
    IsString()(target, key);
    Length(PASSWORD_MIN, PASSWORD_MAX, { message: `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long` })(target, key);
    Matches(HAS_LETTER, { message: 'password must contain at least one letter' })(target, key);
    Matches(HAS_DIGIT, { message: 'password must contain at least one digit' })(target, key);
  };
}

// Each limit is named once so that the OpenAPI document states what the validators enforce.
/** 64 for the local part, the @, 255 for the domain (RFC 3696). */
const EMAIL_MAX_LENGTH = 320;
const REFRESH_TOKEN_MAX_LENGTH = 4096;
/** The confirmation and password reset tokens of the email links. */
const EMAIL_TOKEN_MAX_LENGTH = 512;

export class SignUpDto {
  @ApiProperty({ format: 'email', maxLength: EMAIL_MAX_LENGTH, example: 'ada@example.com' })
  @EmailForm()
  @IsString()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @Matches(/^[^\p{Cc}\p{Cf}\s]*$/u, {
    message: 'email must not contain spaces, control or invisible characters (soft hyphens, direction marks, zero-width spaces)',
  })
  @MaxLength(EMAIL_MAX_LENGTH)
  email: string;

  @ApiProperty({
    minLength: PASSWORD_MIN,
    maxLength: PASSWORD_MAX,
    example: 'analytical1',
    description: 'At least one letter and one digit',
  })
  @PasswordRules()
  password: string;

  @ApiProperty({ minLength: 1, maxLength: NAME_MAX_LENGTH, example: 'Ada Lovelace' })
  @LabelField('name', NAME_MAX_LENGTH)
  name: string;
}

export class SignInDto {
  // No `format: email`: sign-in does not check the address's form; one that is no address matches no account (401).
  @ApiProperty({ maxLength: EMAIL_MAX_LENGTH, example: 'admin@admin.ru' })
  @EmailForm()
  @IsString()
  @MaxLength(EMAIL_MAX_LENGTH)
  email: string;

  // Not checked against the password rules: seeded accounts and older passwords must still work.
  @ApiProperty({ maxLength: PASSWORD_MAX, example: 'admin' })
  @IsString()
  @MaxLength(PASSWORD_MAX)
  password: string;
}

export class RefreshDto {
  @ApiProperty({ required: false, maxLength: REFRESH_TOKEN_MAX_LENGTH, description: 'Omit to use the refresh_token cookie' })
  @IsOptional()
  @IsString()
  @MaxLength(REFRESH_TOKEN_MAX_LENGTH)
  refreshToken?: string;
}

export class TokenDto {
  @ApiProperty({ minLength: 1, maxLength: EMAIL_TOKEN_MAX_LENGTH, description: 'The token from the email link' })
  @IsString()
  @Length(1, EMAIL_TOKEN_MAX_LENGTH)
  token: string;
}

export class ForgotPasswordDto {
  @ApiProperty({ format: 'email', maxLength: EMAIL_MAX_LENGTH, example: 'ada@example.com' })
  @EmailForm()
  @IsString()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(EMAIL_MAX_LENGTH)
  email: string;
}

export class ResetPasswordDto {
  @ApiProperty({ minLength: 1, maxLength: EMAIL_TOKEN_MAX_LENGTH, description: 'The token from the email link' })
  @IsString()
  @Length(1, EMAIL_TOKEN_MAX_LENGTH)
  token: string;

  @ApiProperty({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @PasswordRules()
  password: string;
}

export class AuthResultDto {
  @ApiProperty() accessToken: string;
  @ApiProperty() refreshToken: string;
  @ApiProperty({ type: 'integer', description: 'Seconds until the access token expires' }) expiresIn: number;
  @ApiProperty({ type: MeDto }) user: MeDto;
}

export class SessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ type: String, nullable: true }) userAgent: string | null;
  @ApiProperty({ type: String, nullable: true }) ip: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) lastUsedAt: string;
  @ApiProperty({ description: 'True for the session making this request' }) current: boolean;
}
