import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** `{ "type": "auth", "token": "<accessToken>" }`: first-frame authentication, or a fresh token for the same session later. */
export class AuthFrameDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(8192)
  token: string;
}
