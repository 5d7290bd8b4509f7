import { normaliseLabel } from '../../../common/label.js';
import { avatarVersionOf } from './avatar.js';

/** A person with an account. Plain data: no ORM, no Nest. */
export interface User {
  id: string;
  email: string;
  name: string;
  passwordHash: string;
  emailConfirmedAt: Date | null;
  avatarKey: string | null;
  lastSeenAt: Date | null;
  createdAt: Date;
}

export const NAME_MAX_LENGTH = 64;

/** Names are stored in NFC (so one name is one string however it was typed), trimmed, with inner runs of white space folded to one space. */
export function normaliseName(name: string): string {
  return normaliseLabel(name);
}

/** Where clients fetch a user's avatar; the version changes with each upload so caches refresh. */
export function avatarUrlOf(user: Pick<User, 'id' | 'avatarKey'>): string | null {
  if (!user.avatarKey) return null;
  return `/api/v1/users/${user.id}/avatar?v=${avatarVersionOf(user.avatarKey)}`;
}
