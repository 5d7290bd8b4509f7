import { domainToASCII } from 'node:url';
import { parseMailbox } from '../../../common/mail-address.js';

/** The emails Parley sends; also the value of mail_log.template. */
export const MAIL_TEMPLATES = ['confirm-email', 'reset-password'] as const;
export type MailTemplateName = (typeof MAIL_TEMPLATES)[number];

/**
 * Templates of which only a user's newest message is worth sending: a new link (a reset, a
 * confirmation asked for again) kills the older ones, so an older email still waiting (for a
 * retry, say) is dropped, not sent late with a dead link.
 */
export const SUPERSEDED_BY_NEWER: readonly MailTemplateName[] = ['confirm-email', 'reset-password'];

export interface MailRecipient {
  address: string;
  name: string;
}

/** A template's output: everything a transport needs besides the envelope. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The one link the reader should follow; outbox mode logs it so a local user can click it. */
  actionUrl: string;
}

/** One message ready for a transport. */
export interface OutgoingMail extends RenderedMail {
  /** The mail_log id: stable across retries, so it names the outbox file and the Message-ID. */
  id: string;
  template: MailTemplateName;
  from: string;
  to: MailRecipient;
  messageId: string;
}

/**
 * `<id@domain>`, with the domain of the sender address so receiving servers see it as ours, in
 * its ASCII (xn--) form: a header is 7-bit unless the server takes SMTPUTF8.
 */
export function messageIdFor(id: string, from: string): string {
  const domain = parseMailbox(from)?.domain;
  return `<${id}@${(domain && domainToASCII(domain)) || 'parley.local'}>`;
}
