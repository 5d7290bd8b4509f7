import { randomBytes } from 'node:crypto';
import type { httpClient } from './http.js';

export interface SignedIn {
  user: { id: string; email: string; name: string; emailConfirmed: boolean };
  accessToken: string;
  refreshToken: string;
  password: string;
}

export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${randomBytes(5).toString('hex')}@example.com`;
}

/** Signs a new user up and in through the real API. */
export async function signUpAndIn(request: ReturnType<typeof httpClient>, name = 'Test User', email = uniqueEmail()): Promise<SignedIn> {
  const password = 'passw0rd-' + randomBytes(3).toString('hex');
  const up = await request('POST', '/api/v1/auth/sign-up', { body: { email, password, name } });
  if (up.status !== 201) throw new Error(`sign-up failed: ${up.status} ${JSON.stringify(up.body)}`);
  const signIn = await request('POST', '/api/v1/auth/sign-in', { body: { email, password } });
  if (signIn.status !== 200) throw new Error(`sign-in failed: ${signIn.status} ${JSON.stringify(signIn.body)}`);
  return { ...signIn.body, password };
}
