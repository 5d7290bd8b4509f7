import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { ClaimedMail, DroppedMail, NewMail } from '../../../domain/mail-log.js';
import { SUPERSEDED_BY_NEWER } from '../../../domain/mail.js';
import { MailLogRepository } from '../../../mail-log.repository.js';
import { CLAIMED_COLUMNS, type ClaimedMailRow, toClaimedMail } from './mail-log.mapper.js';
import { returnedRows } from '../../../../../database/sql.js';

/** A settled row drops its rendered content: the token inside must not outlive its use. */
const SETTLE = 'next_attempt_at = NULL, text_body = NULL, html_body = NULL, action_url = NULL';

/**
 * A pending row (aliased `mail_log`) whose template is superseded by a newer message of the same
 * template to the same user: the newer one carries the only live link.
 */
const SUPERSEDED = `(mail_log.template = ANY ('{${SUPERSEDED_BY_NEWER.join(',')}}'::text[]) AND EXISTS (
  SELECT 1 FROM mail_log newer
   WHERE newer.user_id = mail_log.user_id AND newer.template = mail_log.template AND newer.created_at > mail_log.created_at))`;

/** A pending row whose retry waits for the mail server to be reachable again, and is not claimed right now. */
const WAITING_FOR_SERVER = `status = 'pending' AND waits_for_server AND next_attempt_at > now()`;

/**
 * Plain SQL over the table migrations/…-create-mail-log.ts defines. Times come from the database clock (now()), never from this process, so instances with
 * skewed clocks still agree on what is due.
 */
@Injectable()
export class TypeormMailLogRepository extends MailLogRepository {
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async add(mail: NewMail, tx?: EntityManager): Promise<void> {
    // created_at is the insert's own moment, not its transaction's start: a transaction that
    // started earlier but queued later (it waited for a lock) must not look older.
    await (tx ?? this.dataSource).query(
      `INSERT INTO mail_log (id, template, user_id, recipient, recipient_name, sender, subject, text_body, html_body, action_url,
                             status, attempts, created_at, next_attempt_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, clock_timestamp(), now(), now() + make_interval(secs => $11::float8))`,
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

  async claimNext(leaseSeconds: number): Promise<ClaimedMail | undefined> {
    // One statement is one transaction: the row locks taken by FOR UPDATE are held until the
    // lease is written, and SKIP LOCKED lets a concurrent instance take the other due rows
    // instead of waiting for these. A claimed row no longer waits for the server: hastening
    // (which makes it due) must not hand it to another instance while this one sends it.
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_log m
          SET attempts = m.attempts + 1,
              next_attempt_at = now() + make_interval(secs => $1::float8),
              waits_for_server = false
         FROM (SELECT id FROM mail_log
                WHERE status = 'pending' AND next_attempt_at <= now() AND NOT (${SUPERSEDED})
                ORDER BY next_attempt_at
                LIMIT 1
                FOR UPDATE SKIP LOCKED) due
        WHERE m.id = due.id
    RETURNING ${CLAIMED_COLUMNS.split(', ')
      .map((c) => `m.${c}`)
      .join(', ')}`,
      [leaseSeconds],
    )) as [ClaimedMailRow[], number];
    return rows[0] && toClaimedMail(rows[0]);
  }

  async markSent(id: string, attempt: number): Promise<boolean> {
    return this.settle(`status = 'sent', sent_at = now(), ${SETTLE}`, id, attempt, []);
  }

  async markRetry(id: string, attempt: number, error: string, delaySeconds: number, waitsForServer: boolean): Promise<boolean> {
    return this.settle(
      `last_error = $3, next_attempt_at = now() + make_interval(secs => $4::float8), waits_for_server = $5, hastened_from = NULL`,
      id,
      attempt,
      [error, delaySeconds, waitsForServer],
    );
  }

  async markStillWaiting(id: string, attempt: number, error: string, dueAt: Date): Promise<boolean> {
    return this.settle(
      `last_error = $3, next_attempt_at = greatest($4, now()), waits_for_server = true, hastened_from = NULL, free_attempts = free_attempts + 1`,
      id,
      attempt,
      [error, dueAt],
    );
  }

  async hastenWaitingForServer(): Promise<number> {
    const rows = returnedRows(
      await this.dataSource.query(
        `UPDATE mail_log SET hastened_from = next_attempt_at, next_attempt_at = now(), waits_for_server = false
          WHERE ${WAITING_FOR_SERVER}
      RETURNING id`,
      ),
    );
    return rows.length;
  }

  async anyWaitingForServer(): Promise<boolean> {
    const [row] = (await this.dataSource.query(`SELECT EXISTS (SELECT 1 FROM mail_log WHERE ${WAITING_FOR_SERVER}) AS waiting`)) as Array<{
      waiting: boolean;
    }>;
    return row.waiting;
  }

  async release(id: string, attempt: number, reason: string): Promise<boolean> {
    return this.settle(`last_error = $3, next_attempt_at = now()`, id, attempt, [reason]);
  }

  async markFailed(id: string, attempt: number, error: string): Promise<boolean> {
    return this.settle(`status = 'failed', last_error = $3, ${SETTLE}`, id, attempt, [error]);
  }

  async failExpired(reason: string): Promise<DroppedMail[]> {
    // Only rows not leased right now: one being sent this moment is left to its attempt.
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_log
          SET status = 'failed', last_error = concat_ws('; ', rtrim(last_error, '.'), $1::text), ${SETTLE}
        WHERE status = 'pending' AND expires_at <= now() AND next_attempt_at <= now()
    RETURNING id, template, recipient`,
      [reason],
    )) as [DroppedMail[], number];
    return rows;
  }

  async failSuperseded(reason: string): Promise<DroppedMail[]> {
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_log
          SET status = 'failed', last_error = concat_ws('; ', rtrim(last_error, '.'), $1::text), ${SETTLE}
        WHERE status = 'pending' AND next_attempt_at <= now() AND ${SUPERSEDED}
    RETURNING id, template, recipient`,
      [reason],
    )) as [DroppedMail[], number];
    return rows;
  }

  async secondsUntilNextDue(): Promise<number | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::float8 AS seconds FROM mail_log WHERE status = 'pending'`,
    )) as Array<{ seconds: number | null }>;
    return row?.seconds ?? undefined;
  }

  async removeFinished(days: number, limit: number): Promise<number> {
    const rows = returnedRows(
      await this.dataSource.query(
        `DELETE FROM mail_log WHERE id IN (
           SELECT id FROM mail_log WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1) LIMIT $2
         ) RETURNING id`,
        [days, limit],
      ),
    );
    return rows.length;
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
