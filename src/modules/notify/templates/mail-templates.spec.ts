import { EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS, PASSWORD_RESET_TOKEN_TTL_SECONDS } from '../../auth/domain/token-lifetimes.js';
import { escapeHtml, formatLifetime } from './mail-layout.js';
import { linkLifetimeSeconds, renderMail } from './mail-templates.js';

const publicUrl = 'https://chat.example.com';

/** Every href value in the HTML, decoded the way a browser decodes attribute text. */
function hrefs(html: string): string[] {
  return [...html.matchAll(/href="([^"]*)"/g)].map((m) =>
    m[1].replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!),
  );
}

describe('mail templates', () => {
  it('links the confirmation email to the UI route with the token', () => {
    const mail = renderMail('confirm-email', { publicUrl, name: 'Ada', token: 'abc123' });
    const link = 'https://chat.example.com/ui/#/confirm-email?token=abc123';
    expect(mail.actionUrl).toBe(link);
    expect(mail.text).toContain(link);
    expect(hrefs(mail.html)).toEqual([link, link]);
    expect(mail.subject).toMatch(/confirm/i);
  });

  it('links the reset email to the reset route', () => {
    const mail = renderMail('reset-password', { publicUrl, name: 'Ada', token: 'xyz' });
    expect(mail.actionUrl).toBe('https://chat.example.com/ui/#/reset-password?token=xyz');
    expect(mail.text).toContain(mail.actionUrl);
    expect(hrefs(mail.html)).toContain(mail.actionUrl);
  });

  it('URL-encodes the token so characters like + / = & # survive the link', () => {
    const token = 'a+b/c=d&e#f g';
    const mail = renderMail('confirm-email', { publicUrl, name: 'Ada', token });
    expect(mail.actionUrl).toBe('https://chat.example.com/ui/#/confirm-email?token=a%2Bb%2Fc%3Dd%26e%23f%20g');
    const query = mail.actionUrl.split('?')[1];
    expect(new URLSearchParams(query).get('token')).toBe(token);
    expect(hrefs(mail.html)[0]).toBe(mail.actionUrl);
  });

  it('escapes the user name in the HTML part and keeps it verbatim in the text part', () => {
    const name = `<script>alert("x")</script> & 'Co'`;
    const mail = renderMail('confirm-email', { publicUrl, name, token: 't' });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;');
    expect(mail.text).toContain(`Hi ${name},`);
  });

  it('keeps a name with line breaks on one line of the text part', () => {
    const mail = renderMail('reset-password', { publicUrl, name: 'Eve\r\nVisit http://evil.example', token: 't' });
    const line = mail.text.split('\n').find((l) => l.startsWith('Hi '));
    expect(line).toContain('Eve Visit http://evil.example');
    expect(mail.text.split('\n').some((l) => l.startsWith('Visit'))).toBe(false);
  });

  it('greets without a name when given none', () => {
    for (const template of ['confirm-email', 'reset-password'] as const) {
      const mail = renderMail(template, { publicUrl, name: '', token: 't' });
      expect(mail.text.split('\n')[0]).toMatch(/^Hi, [a-z]/);
      expect(mail.html).toContain('Hi, ');
    }
  });

  it('tells the reader when each link expires', () => {
    expect(renderMail('confirm-email', { publicUrl, name: 'A', token: 't' }).text).toContain('expires in 48 hours');
    expect(renderMail('reset-password', { publicUrl, name: 'A', token: 't' }).text).toContain('expires in 1 hour ');
    expect(renderMail('reset-password', { publicUrl, name: 'A', token: 't' }).html).toContain('expires in 1 hour ');
    expect(linkLifetimeSeconds('confirm-email')).toBe(EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS);
    expect(linkLifetimeSeconds('reset-password')).toBe(PASSWORD_RESET_TOKEN_TTL_SECONDS);
  });
});

describe('mail layout helpers', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`&<>"'x`)).toBe('&amp;&lt;&gt;&quot;&#39;x');
  });

  it('formats lifetimes in the largest whole unit', () => {
    expect(formatLifetime(48 * 3600)).toBe('48 hours');
    expect(formatLifetime(3600)).toBe('1 hour');
    expect(formatLifetime(90 * 60)).toBe('90 minutes');
    expect(formatLifetime(45)).toBe('45 seconds');
  });
});
