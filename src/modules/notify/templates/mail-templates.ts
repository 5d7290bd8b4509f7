import { EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, PASSWORD_RESET_TOKEN_TTL_SECONDS } from '../../auth/domain/token-lifetimes.js';
import type { MailTemplateName, RenderedMail } from '../domain/mail.js';
import { displayName, formatLifetime, renderHtml, uiLink } from './mail-layout.js';

export interface TemplateInput {
  /** Origin of the public site, without a trailing slash (config.http.publicUrl). */
  publicUrl: string;
  /** The recipient's display name, as they typed it. */
  name: string;
  /** The single-use token the link carries. */
  token: string;
}

interface Template {
  /** How long the link in it stays valid, in seconds. */
  lifetimeSeconds: number;
  render(input: TemplateInput): RenderedMail;
}

const TEMPLATES: Record<MailTemplateName, Template> = {
  'confirm-email': {
    lifetimeSeconds: EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS,
    render({ publicUrl, name, token }) {
      const link = uiLink(publicUrl, 'confirm-email', token);
      const who = displayName(name);
      const lifetime = formatLifetime(EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS);
      const subject = 'Confirm your email address for Parley';
      const intro = `Hi ${who}, welcome to Parley! Please confirm that this is your email address.`;
      const expiry = `The link expires in ${lifetime} and works once.`;
      const ignore = 'If you did not create a Parley account, you can ignore this email.';
      return {
        subject,
        actionUrl: link,
        text: [intro, '', 'Confirm your email address:', link, '', expiry, '', ignore, ''].join('\n'),
        html: renderHtml({
          title: subject,
          paragraphs: [intro],
          action: { label: 'Confirm email address', url: link },
          footnotes: [expiry, ignore],
        }),
      };
    },
  },
  'reset-password': {
    lifetimeSeconds: PASSWORD_RESET_TOKEN_TTL_SECONDS,
    render({ publicUrl, name, token }) {
      const link = uiLink(publicUrl, 'reset-password', token);
      const who = displayName(name);
      const lifetime = formatLifetime(PASSWORD_RESET_TOKEN_TTL_SECONDS);
      const subject = 'Reset your Parley password';
      const intro = `Hi ${who}, someone (hopefully you) asked to reset the password of your Parley account.`;
      const expiry = `The link expires in ${lifetime} and works once. Setting a new password signs you out everywhere.`;
      const ignore = 'If you did not ask for this, ignore this email; your password stays as it is.';
      return {
        subject,
        actionUrl: link,
        text: [intro, '', 'Choose a new password:', link, '', expiry, '', ignore, ''].join('\n'),
        html: renderHtml({
          title: subject,
          paragraphs: [intro],
          action: { label: 'Choose a new password', url: link },
          footnotes: [expiry, ignore],
        }),
      };
    },
  },
};

export function renderMail(template: MailTemplateName, input: TemplateInput): RenderedMail {
  return TEMPLATES[template].render(input);
}

/** Seconds until the link in this template's email is dead. */
export function linkLifetimeSeconds(template: MailTemplateName): number {
  return TEMPLATES[template].lifetimeSeconds;
}
