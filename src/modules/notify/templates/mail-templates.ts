import { EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, PASSWORD_RESET_TOKEN_TTL_SECONDS } from '../../auth/domain/token-lifetimes.js';
import type { MailTemplateName, RenderedMail } from '../domain/mail.js';
import { displayName, formatLifetime, renderHtml, uiLink } from './mail-layout.js';

export interface TemplateInput {
  /** Origin of the public site, without a trailing slash (config.http.publicUrl). */
  publicUrl: string;
  /**
   * The recipient's display name, as they typed it; empty for an address not yet proven theirs
   * (whoever signs up chooses it, and could put a message of their own into Parley's mail).
   */
  name: string;
  /** The single-use token the link carries. */
  token: string;
}

interface Template {
  /** How long the link in it stays valid, in seconds. */
  lifetimeSeconds: number;
  render(input: TemplateInput): RenderedMail;
}

/** The one shape both emails have: a greeting, a single-use link (text and button), then footnotes. */
function linkMail(parts: {
  subject: string;
  link: string;
  intro: string;
  textPrompt: string;
  buttonLabel: string;
  footnotes: string[];
}): RenderedMail {
  const { subject, link, intro, textPrompt, buttonLabel, footnotes } = parts;
  return {
    subject,
    actionUrl: link,
    text: [intro, '', textPrompt, link, '', ...footnotes.flatMap((f) => [f, ''])].join('\n'),
    html: renderHtml({ title: subject, paragraphs: [intro], action: { label: buttonLabel, url: link }, footnotes }),
  };
}

/** "Hi Ada, " or, without a name, "Hi, ". */
const greeting = (name: string): string => (name.trim() ? `Hi ${displayName(name)}, ` : 'Hi, ');

const TEMPLATES: Record<MailTemplateName, Template> = {
  'confirm-email': {
    lifetimeSeconds: EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS,
    render: ({ publicUrl, name, token }) =>
      linkMail({
        subject: 'Confirm your email address for Parley',
        link: uiLink(publicUrl, 'confirm-email', token),
        intro: `${greeting(name)}welcome to Parley! Please confirm that this is your email address.`,
        textPrompt: 'Confirm your email address:',
        buttonLabel: 'Confirm email address',
        footnotes: [
          `The link expires in ${formatLifetime(EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS)} and works once.`,
          'If you did not create a Parley account, you can ignore this email.',
        ],
      }),
  },
  'reset-password': {
    lifetimeSeconds: PASSWORD_RESET_TOKEN_TTL_SECONDS,
    render: ({ publicUrl, name, token }) =>
      linkMail({
        subject: 'Reset your Parley password',
        link: uiLink(publicUrl, 'reset-password', token),
        intro: `${greeting(name)}someone (hopefully you) asked to reset the password of your Parley account.`,
        textPrompt: 'Choose a new password:',
        buttonLabel: 'Choose a new password',
        footnotes: [
          `The link expires in ${formatLifetime(PASSWORD_RESET_TOKEN_TTL_SECONDS)} and works once. Setting a new password signs you out everywhere.`,
          'If you did not ask for this, ignore this email; your password stays as it is.',
        ],
      }),
  },
};

export function renderMail(template: MailTemplateName, input: TemplateInput): RenderedMail {
  return TEMPLATES[template].render(input);
}

/** Seconds until the link in this template's email is dead. */
export function linkLifetimeSeconds(template: MailTemplateName): number {
  return TEMPLATES[template].lifetimeSeconds;
}
