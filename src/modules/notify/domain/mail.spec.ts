import { messageIdFor } from './mail.js';

describe('messageIdFor', () => {
  it('uses the domain of the sender address', () => {
    expect(messageIdFor('id-1', 'Parley <no-reply@chat.example.com>')).toBe('<id-1@chat.example.com>');
    expect(messageIdFor('id-2', 'bot@example.org')).toBe('<id-2@example.org>');
  });

  it('writes an internationalised domain in its ASCII form, as the From header has it', () => {
    expect(messageIdFor('id-3', 'Parley <noreply@bücher.de>')).toBe('<id-3@xn--bcher-kva.de>');
  });

  it('finds the domain in every form MAIL_FROM may take', () => {
    expect(messageIdFor('id-4', 'no-reply@example.com (Parley)')).toBe('<id-4@example.com>');
    expect(messageIdFor('id-5', '"a@b"@example.com')).toBe('<id-5@example.com>');
  });
});
