import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config/app-config.js';
import type { AccessTokenVerifier } from '../modules/auth/access-token.verifier.js';
import { SocketAuthenticator } from './socket-authenticator.js';

const verifier = { verify: async () => ({ userId: 'u', sessionId: 's' }) } as unknown as AccessTokenVerifier;
const authenticator = new SocketAuthenticator(
  loadConfig({ PUBLIC_URL: 'https://parley.example.com', CORS_ORIGINS: 'https://app.example.org,http://localhost:5173' }),
  verifier,
);
const handshake = (headers: Record<string, string>) => authenticator.fromHandshake({ headers } as IncomingMessage);

describe('SocketAuthenticator', () => {
  describe('fromHandshake', () => {
    it('takes a bearer token without looking at the origin', () => {
      expect(handshake({ authorization: 'Bearer abc.def.ghi', origin: 'https://evil.example' })).toEqual({
        kind: 'token',
        token: 'abc.def.ghi',
      });
    });

    it('prefers the bearer token over the cookie', () => {
      expect(handshake({ authorization: 'bearer one', cookie: 'access_token=two' })).toMatchObject({ token: 'one' });
    });

    it('takes the access_token cookie among others, URL-decoded, from an allowed origin', () => {
      expect(handshake({ cookie: 'theme=dark; access_token=a%2Eb; refresh_token=r', origin: 'https://parley.example.com' })).toEqual({
        kind: 'token',
        token: 'a.b',
      });
    });

    it('refuses the cookie from another origin', () => {
      expect(handshake({ cookie: 'access_token=t', origin: 'https://evil.example', host: 'parley.example.com' })).toEqual({
        kind: 'refused',
        code: 'ORIGIN_NOT_ALLOWED',
      });
    });

    it('asks for the auth frame when there is no credential', () => {
      expect(handshake({ cookie: 'refresh_token=r', authorization: 'Basic dTpw' })).toEqual({ kind: 'none' });
    });
  });

  describe('isAllowedOrigin', () => {
    it.each([
      ['PUBLIC_URL', 'https://parley.example.com', 'internal:3000'],
      ['an origin in CORS_ORIGINS', 'http://localhost:5173', 'internal:3000'],
      ['the Host the request was sent to, over http', 'http://10.0.0.5:3000', '10.0.0.5:3000'],
      ['the Host the request was sent to, over https behind a proxy', 'https://chat.internal', 'chat.internal'],
      ['an origin with a default port spelled out', 'https://parley.example.com:443', 'internal'],
    ])('allows %s', (_label, origin, host) => {
      expect(authenticator.isAllowedOrigin(origin, host)).toBe(true);
    });

    it.each([
      ['a foreign site', 'https://evil.example', 'parley.example.com'],
      ['a sibling port', 'http://localhost:5174', 'localhost:3000'],
      ['a missing origin', undefined, 'parley.example.com'],
      ['the literal string null (sandboxed pages)', 'null', 'parley.example.com'],
      ['a look-alike suffix', 'https://parley.example.com.evil.example', 'internal'],
    ])('refuses %s', (_label, origin, host) => {
      expect(authenticator.isAllowedOrigin(origin, host)).toBe(false);
    });
  });

  it('reads the expiry of a verified token', async () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'u', sid: 's', exp: 2_000_000_000 })).toString('base64url');
    expect(await authenticator.verify(`h.${payload}.sig`)).toEqual({ userId: 'u', sessionId: 's', expiresAt: 2_000_000_000_000 });
  });
});
