import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, IsNull, MoreThan, Repository } from 'typeorm';
import { SessionEntity } from './infrastructure/persistence/typeorm/session.entity.js';
import { returnedRows } from '../../database/sql.js';

export type Session = SessionEntity;

export interface LiveSession {
  id: string;
  userId: string;
  stale: boolean;
}

@Injectable()
export class SessionRepository {
  constructor(@InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>) {}

  /**
   * Opens a session for a sign-in, provided the password it checked is still the user's. The
   * user row is share-locked: a password reset (which updates that row and revokes every session
   * in one transaction) either commits first, and then there is no session, or waits for this
   * one, and then revokes it too. False when the password changed meanwhile.
   */
  async createForPassword(
    session: Pick<Session, 'id' | 'userId' | 'refreshTokenHash' | 'userAgent' | 'ip' | 'expiresAt'>,
    checkedPasswordHash: string,
  ): Promise<boolean> {
    const rows = returnedRows(
      await this.sessions.query(
        `INSERT INTO sessions (id, user_id, refresh_token_hash, user_agent, ip, expires_at)
         SELECT $1, u.id, $3, $4, $5, $6 FROM (SELECT id FROM users WHERE id = $2 AND password_hash = $7 FOR SHARE) u
         RETURNING id`,
        [session.id, session.userId, session.refreshTokenHash, session.userAgent, session.ip, session.expiresAt, checkedPasswordHash],
      ),
    );
    return rows.length === 1;
  }

  /** The session if it is neither revoked nor expired, and whether its last use is over a minute old. */
  async findLive(id: string): Promise<LiveSession | undefined> {
    const [row] = await this.sessions.query(
      `SELECT id, user_id, last_used_at < now() - interval '1 minute' AS stale FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()`,
      [id],
    );
    return row ? { id: row.id, userId: row.user_id, stale: row.stale } : undefined;
  }

  /** Those of `ids` that are revoked, expired or gone (their user deleted). */
  async endedAmong(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const live: Array<{ id: string }> = await this.sessions.query(
      `SELECT id FROM sessions WHERE id = ANY ($1::uuid[]) AND revoked_at IS NULL AND expires_at > now()`,
      [ids],
    );
    const liveIds = new Set(live.map((r) => r.id));
    return ids.filter((id) => !liveIds.has(id));
  }

  findById(id: string): Promise<Session | null> {
    return this.sessions.findOneBy({ id });
  }

  listLive(userId: string): Promise<Session[]> {
    return this.sessions.find({ where: { userId, revokedAt: IsNull(), expiresAt: MoreThan(new Date()) }, order: { lastUsedAt: 'DESC' } });
  }

  /**
   * Replaces the refresh token only if `currentHash` is still the live one. Two requests racing
   * with the same token cannot both win: the loser sees false and treats it as reuse.
   */
  async rotate(id: string, currentHash: string, nextHash: string, expiresAt: Date): Promise<boolean> {
    const result = await this.sessions
      .createQueryBuilder()
      .update()
      .set({ refreshTokenHash: nextHash, lastUsedAt: () => 'now()', expiresAt })
      .where('id = :id AND refresh_token_hash = :currentHash AND revoked_at IS NULL AND expires_at > now()', { id, currentHash })
      .execute();
    return result.affected === 1;
  }

  async revoke(id: string, reason: string): Promise<boolean> {
    const result = await this.sessions.update({ id, revokedAt: IsNull() }, { revokedAt: new Date(), revokedReason: reason });
    return result.affected === 1;
  }

  /** Revokes every live session of a user and returns their ids (in `manager`'s transaction when given). */
  async revokeAllOf(userId: string, reason: string, manager?: EntityManager): Promise<string[]> {
    const rows = returnedRows<{ id: string }>(
      await (manager ?? this.sessions).query(
        `UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
        [userId, reason],
      ),
    );
    return rows.map((r) => r.id);
  }

  /**
   * Revokes the user's live sessions beyond the `keep` most recently used (the newest first when
   * two were last used at once), never `spare` (the session just opened), and returns their ids.
   */
  async revokeBeyond(userId: string, keep: number, spare: string, reason: string): Promise<string[]> {
    const rows = returnedRows<{ id: string }>(
      await this.sessions.query(
        `UPDATE sessions SET revoked_at = now(), revoked_reason = $4
          WHERE id IN (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND id <> $3
                        ORDER BY last_used_at DESC, created_at DESC, id OFFSET $2)
            AND revoked_at IS NULL
         RETURNING id`,
        [userId, keep - 1, spare, reason],
      ),
    );
    return rows.map((r) => r.id);
  }

  /** Records use at most once a minute per session, to keep writes off the hot path. */
  async touch(id: string): Promise<void> {
    await this.sessions.query(`UPDATE sessions SET last_used_at = now() WHERE id = $1 AND last_used_at < now() - interval '1 minute'`, [
      id,
    ]);
  }
}
