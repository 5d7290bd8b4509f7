import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { ConflictError } from '../../common/errors/domain-error.js';
import { normaliseEmail } from '../../common/validation/transforms.js';
import { isUniqueViolation, returnedRows } from '../../database/sql.js';
import type { User } from './domain/user.js';
import { UserEntity } from './infrastructure/persistence/typeorm/user.entity.js';

export interface UserSearchCursor {
  name: string;
  id: string;
}

/** Users in PostgreSQL. Accounts always live in the relational database, whatever MESSAGE_STORE says. */
@Injectable()
export class UserRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  async create(user: Omit<User, 'createdAt' | 'lastSeenAt' | 'avatarKey'>, manager?: EntityManager): Promise<User> {
    const repo = manager ? manager.getRepository(UserEntity) : this.users;
    try {
      await repo.insert(Object.assign({}, user, { avatarKey: null, lastSeenAt: null }));
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_unique'))
        throw new ConflictError('EMAIL_TAKEN', 'An account with this email already exists.');
      throw error;
    }
    return toUser((await repo.findOneByOrFail({ id: user.id }))!);
  }

  /**
   * Inserts the user unless the email is taken, and says whether this call created it. For seeding:
   * several instances may start at once, and an existing account is never touched.
   */
  async insertIfAbsent(user: Omit<User, 'createdAt' | 'lastSeenAt' | 'avatarKey'>): Promise<boolean> {
    const rows = returnedRows<{ id: string }>(
      await this.users.query(
        `INSERT INTO users (id, email, name, password_hash, email_confirmed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO NOTHING RETURNING id`,
        [user.id, user.email, user.name, user.passwordHash, user.emailConfirmedAt],
      ),
    );
    return rows.length > 0;
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.users.findOneBy({ id });
    return row ? toUser(row) : undefined;
  }

  async findByIds(ids: string[]): Promise<User[]> {
    if (ids.length === 0) return [];
    const rows = await this.users.createQueryBuilder('u').where('u.id = ANY(:ids)', { ids }).getMany();
    return rows.map(toUser);
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.users.findOneBy({ email });
    return row ? toUser(row) : undefined;
  }

  async update(
    id: string,
    changes: Partial<Pick<User, 'name' | 'passwordHash' | 'emailConfirmedAt' | 'avatarKey'>>,
    manager?: EntityManager,
  ): Promise<void> {
    const repo = manager ? manager.getRepository(UserEntity) : this.users;
    await repo.update({ id }, Object.assign({}, changes, { updatedAt: new Date() }));
  }

  /**
   * Stamps when the user was last seen (came online or went offline), never moving it back: two
   * instances' stamps of one user may land in either order, and the later moment is the one to
   * keep. Returns the time stored (later than `at` when a later stamp came first), or undefined
   * for no such user.
   */
  async stampLastSeen(id: string, at: Date): Promise<Date | undefined> {
    const [row] = returnedRows<{ last_seen_at: Date }>(
      await this.users.query(`UPDATE users SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1 RETURNING last_seen_at`, [id, at]),
    );
    return row?.last_seen_at;
  }

  /**
   * Puts a new hash of the same password in place of `from`, unless the password changed meanwhile
   * (a reset): then the reset's hash stays. Says whether it replaced it.
   */
  async replacePasswordHash(id: string, from: string, to: string): Promise<boolean> {
    const rows = returnedRows<{ id: string }>(
      await this.users.query(`UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2 RETURNING id`, [
        id,
        from,
        to,
      ]),
    );
    return rows.length > 0;
  }

  /** Stamps the address confirmed, if it was not already (in the transaction that spent the link). */
  async confirmEmail(id: string, manager: EntityManager): Promise<void> {
    await manager.query(`UPDATE users SET email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now() WHERE id = $1`, [
      id,
    ]);
  }

  /**
   * Sets a password from a reset link, which reached the mailbox and so confirms the address too.
   * Returns the account's email, or undefined when the account is gone.
   */
  async resetPassword(id: string, passwordHash: string, manager: EntityManager): Promise<string | undefined> {
    const [user] = returnedRows<{ email: string }>(
      await manager.query(
        `UPDATE users SET password_hash = $2, email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now() WHERE id = $1 RETURNING email`,
        [id, passwordHash],
      ),
    );
    return user?.email;
  }

  /** Who a confirmation email goes to, read in the caller's transaction (after its locks). */
  async mailContact(id: string, manager: EntityManager): Promise<{ email: string; name: string; confirmed: boolean } | undefined> {
    const [user] = returnedRows<{ email: string; name: string; confirmed: boolean }>(
      await manager.query(`SELECT email, name, email_confirmed_at IS NOT NULL AS confirmed FROM users WHERE id = $1`, [id]),
    );
    return user;
  }

  /**
   * Points the user at the avatar file `key` (null: none) and queues the file it pointed at for
   * deletion (avatar_discards, due now), in one statement: no failure between the database and
   * object storage can leave that file behind. A new key's planned deletion
   * (AvatarDiscards.plan) is dropped, since the file is now in use; when a deletion has claimed
   * that plan (the upload failed as far as the server knew, or took over a day) nothing changes. Returns the previous key, or
   * `'unchanged'` when nothing changed (that, or no such user).
   */
  async replaceAvatarKey(id: string, key: string | null): Promise<{ previous: string | null } | 'unchanged'> {
    const rows = returnedRows<{ previous: string | null }>(
      await this.users.query(
        `WITH kept AS (
           DELETE FROM avatar_discards WHERE key = $2 AND attempts = 0 AND EXISTS (SELECT 1 FROM users WHERE id = $1) RETURNING key
         ), old AS (
           SELECT id, avatar_key AS previous FROM users
            WHERE id = $1 AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM kept))
              FOR UPDATE
         ), swapped AS (
           UPDATE users u SET avatar_key = $2, updated_at = now() FROM old WHERE u.id = old.id RETURNING old.previous
         ), queued AS (
           INSERT INTO avatar_discards (key, user_id, due_at)
           SELECT previous, $1, now() FROM swapped WHERE previous IS NOT NULL
           ON CONFLICT (key) DO UPDATE SET due_at = now()
         )
         SELECT previous FROM swapped`,
        [id, key],
      ),
    );
    return rows.length === 0 ? 'unchanged' : { previous: rows[0].previous };
  }

  /**
   * Users whose name starts with `query`, or whose confirmed email is `query` (case-insensitive;
   * an email prefix would let anyone spell out an address a character at a time, and an
   * unconfirmed one would let anyone sign up as ceo@corp.example and be found under it), ordered
   * by name then id,
   * each with its place in that order (`sortName`): the database's own lower-casing, which is
   * what a cursor must carry (JavaScript's differs for some letters, e.g. a final Σ). The name
   * is matched in NFC, as names are stored; the email in normaliseEmail's form.
   */
  async search(query: string, limit: number, after?: UserSearchCursor): Promise<Array<{ user: User; sortName: string }>> {
    const raw = query.normalize('NFC');
    const params: unknown[] = [raw, escapeLike(raw), normaliseEmail(query), limit];
    let cursor = '';
    if (after) {
      params.push(after.name, after.id);
      cursor = 'AND (lower(u.name), u.id) > ($5, $6::uuid)';
    }
    // The names from the prefix on, walked in order on users_name_order (lower(name), id) and cut
    // at the limit: where the prefix sorts no longer matters (ORed with the email in one WHERE,
    // the walk began at the start of the alphabet, and "zoe" read nearly every user). Every name
    // that starts with the prefix sorts at or after it. The email's one match joins them; then
    // the page is read by primary key.
    const page: Array<{ id: string; sort_name: string }> = await this.users.query(
      `SELECT s.id, s.sort_name FROM (
         (SELECT u.id, lower(u.name) AS sort_name FROM users u
           WHERE lower(u.name) >= lower($1) AND lower(u.name) LIKE lower($2) || '%' ${cursor}
           ORDER BY lower(u.name), u.id LIMIT $4)
         UNION
         (SELECT u.id, lower(u.name) FROM users u WHERE u.email = $3 AND u.email_confirmed_at IS NOT NULL ${cursor})
       ) s
       ORDER BY s.sort_name, s.id LIMIT $4`,
      params,
    );
    const users = new Map((await this.findByIds(page.map((r) => r.id))).map((u) => [u.id, u]));
    return page.flatMap((r) => {
      const user = users.get(r.id);
      return user ? [{ user, sortName: r.sort_name }] : []; // deleted in between
    });
  }
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function toUser(row: UserEntity): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    passwordHash: row.passwordHash,
    emailConfirmedAt: row.emailConfirmedAt,
    avatarKey: row.avatarKey,
    lastSeenAt: row.lastSeenAt,
    createdAt: row.createdAt,
  };
}
