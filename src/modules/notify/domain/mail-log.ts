import type { MailRecipient, MailTemplateName, RenderedMail } from './mail.js';

/** A message to send, as recorded before the first attempt. */
export interface NewMail extends RenderedMail {
  id: string;
  template: MailTemplateName;
  userId: string | undefined;
  from: string;
  to: MailRecipient;
  /** After this the link inside is dead, so retrying is pointless. */
  expiresInSeconds: number;
}

/** A row the worker has claimed for one delivery attempt; `attempts` already counts it. */
export interface ClaimedMail extends RenderedMail {
  id: string;
  template: MailTemplateName;
  from: string;
  to: MailRecipient;
  attempts: number;
  /** Of `attempts`, those that do not count: brought forward, they found the server still unreachable. */
  freeAttempts: number;
  /** When this attempt was brought forward (the server answered again), the time it had been due. */
  hastenedFrom: Date | null;
}

/** A pending message given up on before delivery: its link expired, or a newer message replaced it. */
export interface DroppedMail {
  id: string;
  template: MailTemplateName;
  recipient: string;
}
