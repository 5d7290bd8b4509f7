const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values alike. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * A user's name as it may appear in a message: control characters (line breaks included) become
 * spaces, so a crafted name cannot add lines of its own to the plain-text part.
 */
export function displayName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return cleaned.length > 0 ? cleaned : 'there';
}

/** "48 hours", "1 hour", "30 minutes". */
export function formatLifetime(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

/** `${publicUrl}/ui/#/<route>?token=<token>`, the token URL-encoded. */
export function uiLink(publicUrl: string, route: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/ui/#/${route}?token=${encodeURIComponent(token)}`;
}

export interface HtmlEmail {
  title: string;
  /** Paragraphs of plain text; escaped here. */
  paragraphs: string[];
  action: { label: string; url: string };
  /** Smaller print under the button; escaped here. */
  footnotes: string[];
}

/**
 * A plain single-column email that renders in every client: inline styles only, a table for the
 * button (Outlook ignores padding on links), and the link repeated as text for clients that
 * strip buttons. Every value is escaped here, so callers pass raw text.
 */
export function renderHtml(email: HtmlEmail): string {
  const p = (text: string, style = '') =>
    `<p style="margin:0 0 16px;font-size:15px;line-height:22px;color:#1f2933;${style}">${escapeHtml(text)}</p>`;
  const url = escapeHtml(email.action.url);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(email.title)}</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:24px 0;">
<tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px;">
<tr><td>
<h1 style="margin:0 0 24px;font-size:20px;color:#1f2933;">${escapeHtml(email.title)}</h1>
${email.paragraphs.map((text) => p(text)).join('\n')}
<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 24px;"><tr>
<td style="border-radius:6px;background:#2563eb;"><a href="${url}" style="display:inline-block;padding:12px 24px;font-size:15px;color:#ffffff;text-decoration:none;font-weight:600;">${escapeHtml(email.action.label)}</a></td>
</tr></table>
${p('If the button does not work, copy this link into your browser:', 'font-size:13px;color:#52606d;')}
<p style="margin:0 0 16px;font-size:13px;line-height:20px;word-break:break-all;"><a href="${url}" style="color:#2563eb;">${url}</a></p>
${email.footnotes.map((text) => p(text, 'font-size:13px;color:#52606d;')).join('\n')}
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
}
