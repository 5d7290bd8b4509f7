import type { ClaimedMail } from '../../../domain/mail-log.js';
import type { MailTemplateName } from '../../../domain/mail.js';

/** A row as `RETURNING` hands it back: column names, not entity properties. */
export interface ClaimedMailRow {
  id: string;
  template: string;
  recipient: string;
  recipient_name: string;
  sender: string;
  subject: string;
  text_body: string;
  html_body: string;
  action_url: string;
  attempts: number;
  free_attempts: number;
  hastened_from: Date | null;
}

export const CLAIMED_COLUMNS =
  'id, template, recipient, recipient_name, sender, subject, text_body, html_body, action_url, attempts, free_attempts, hastened_from';

export function toClaimedMail(row: ClaimedMailRow): ClaimedMail {
  return {
    id: row.id,
    template: row.template as MailTemplateName,
    from: row.sender,
    to: { address: row.recipient, name: row.recipient_name },
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    actionUrl: row.action_url,
    attempts: row.attempts,
    freeAttempts: row.free_attempts,
    hastenedFrom: row.hastened_from,
  };
}
