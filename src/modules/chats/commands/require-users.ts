import { NotFoundError } from '../../../common/errors/domain-error.js';
import type { UserRepository } from '../../users/user.repository.js';

/** Refuses with USER_NOT_FOUND, naming each one, when any of `ids` is no user's. */
export async function requireUsers(users: UserRepository, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = new Set((await users.findByIds(ids)).map((u) => u.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw new NotFoundError('USER_NOT_FOUND', `No such user: ${missing.join(', ')}.`);
}
