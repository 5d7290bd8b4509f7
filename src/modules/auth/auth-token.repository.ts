import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { AuthTokenEntity, type AuthTokenPurpose } from './infrastructure/persistence/typeorm/auth-token.entity.js';
import { returnedRows } from '../../database/sql.js';

/** Single-use tokens sent by email. Only their hashes are stored. */
@Injectable()
export class AuthTokenRepository {
  constructor(@InjectRepository(AuthTokenEntity) private readonly tokens: Repository<AuthTokenEntity>) {}

  async create(userId: string, purpose: AuthTokenPurpose, tokenHash: string, ttlSeconds: number, manager?: EntityManager): Promise<void> {
    const repo = manager ? manager.getRepository(AuthTokenEntity) : this.tokens;
    await repo.insert({ id: randomUUID(), userId, purpose, tokenHash, expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
  }

  /** Marks the token used and returns its user, or undefined when unknown, used or expired. Atomic. */
  async consume(purpose: AuthTokenPurpose, tokenHash: string, manager?: EntityManager): Promise<string | undefined> {
    const runner = manager ?? this.tokens.manager;
    const rows = returnedRows<{ user_id: string }>(
      await runner.query(
        `UPDATE auth_tokens SET used_at = now() WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() RETURNING user_id`,
        [tokenHash, purpose],
      ),
    );
    return rows[0]?.user_id;
  }

  /**
   * Makes one account's links of this purpose one at a time, across instances, until the
   * transaction ends (an advisory lock: see EmailLinksService.sendResetLink for why not the user's row).
   */
  async lockLinksOf(userId: string, purpose: AuthTokenPurpose, manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1::text || $2::text, 0))`, [LINK_LOCKS[purpose], userId]);
  }

  /** A newer reset link makes older unused ones worthless. */
  async invalidateUnused(userId: string, purpose: AuthTokenPurpose, manager?: EntityManager): Promise<void> {
    const runner = manager ?? this.tokens.manager;
    await runner.query(`UPDATE auth_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`, [userId, purpose]);
  }
}

/** The advisory lock names, as older instances take them too. */
const LINK_LOCKS: Record<AuthTokenPurpose, string> = {
  confirm_email: 'parley:confirm-email:',
  reset_password: 'parley:password-reset:',
};
