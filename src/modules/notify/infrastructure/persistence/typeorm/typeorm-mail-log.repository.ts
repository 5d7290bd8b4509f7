import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ClaimedMail, ExpiredMail, NewMail } from '../../../domain/mail-log.js';
import { MailLogRepository } from '../../../mail-log.repository.js';
import { CLAIMED_COLUMNS, type ClaimedMailRow, toClaimedMail } from './mail-log.mapper.js';

/** A settled row drops its rendered content: the token inside must not outlive its use. */
const SETTLE = 'next_attempt_at = NULL, text_body = NULL, html_body = NULL, action_url = NULL';

/**
 * Plain SQL over the table migrations/…-create-mail-log.ts defines. Times come from the database clock (now()), never from this process, so instances with
 * skewed clocks still agree on what is due.
 */
@Injectable()
export class TypeormMailLogRepository extends MailLogRepository {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async add(mail: NewMail): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO mail_log (id, template, user_id, recipient, recipient_name, sender, subject, text_body, html_body, action_url,
                             status, attempts, created_at, next_attempt_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, now(), now(), now() + make_interval(secs => $11::float8))`,
      [
        mail.id,
        mail.template,
        mail.userId ?? null,
        mail.to.address,
        mail.to.name,
        mail.from,
        mail.subject,
        mail.text,
        mail.html,
        mail.actionUrl,
        mail.expiresInSeconds,
      ],
    );
  }

  async claimDue(limit: number, leaseSeconds: number): Promise<ClaimedMail[]> {
    // One statement is one transaction: the row locks taken by FOR UPDATE are held until the
    // lease is written, and SKIP LOCKED lets a concurrent instance take the other due rows
    // instead of waiting for these.
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_log m
          SET attempts = m.attempts + 1,
              next_attempt_at = now() + make_interval(secs => $2::float8)
         FROM (SELECT id FROM mail_log
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED) due
        WHERE m.id = due.id
    RETURNING ${CLAIMED_COLUMNS.split(', ')
      .map((c) => `m.${c}`)
      .join(', ')}`,
      [limit, leaseSeconds],
    )) as [ClaimedMailRow[], number];
    return rows.map(toClaimedMail);
  }

  async markSent(id: string, attempt: number): Promise<boolean> {
    return this.settle(`status = 'sent', sent_at = now(), ${SETTLE}`, id, attempt, []);
  }

  async markRetry(id: string, attempt: number, error: string, delaySeconds: number): Promise<boolean> {
    return this.settle(`last_error = $3, next_attempt_at = now() + make_interval(secs => $4::float8)`, id, attempt, [error, delaySeconds]);
  }

  async markFailed(id: string, attempt: number, error: string): Promise<boolean> {
    return this.settle(`status = 'failed', last_error = $3, ${SETTLE}`, id, attempt, [error]);
  }

  async failExpired(reason: string): Promise<ExpiredMail[]> {
    // Only rows not leased right now: one being sent this moment is left to its attempt.
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_log
          SET status = 'failed', last_error = concat_ws('; ', last_error, $1::text), ${SETTLE}
        WHERE status = 'pending' AND expires_at <= now() AND next_attempt_at <= now()
    RETURNING id, template, recipient`,
      [reason],
    )) as [ExpiredMail[], number];
    return rows;
  }

  async secondsUntilNextDue(): Promise<number | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::float8 AS seconds FROM mail_log WHERE status = 'pending'`,
    )) as Array<{ seconds: number | null }>;
    return row?.seconds ?? undefined;
  }

  private async settle(set: string, id: string, attempt: number, params: unknown[]): Promise<boolean> {
    const [, count] = (await this.dataSource.query(`UPDATE mail_log SET ${set} WHERE id = $1 AND attempts = $2 AND status = 'pending'`, [
      id,
      attempt,
      ...params,
    ])) as [unknown[], number];
    return count === 1;
  }
}
