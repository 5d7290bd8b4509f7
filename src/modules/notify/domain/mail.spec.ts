import { messageIdFor } from './mail.js';

describe('messageIdFor', () => {
  it('uses the domain of the sender address', () => {
    expect(messageIdFor('id-1', 'Parley <no-reply@chat.example.com>')).toBe('<id-1@chat.example.com>');
    expect(messageIdFor('id-2', 'bot@example.org')).toBe('<id-2@example.org>');
  });

  it('writes an internationalised domain in its ASCII form, as the From header has it', () => {
    expect(messageIdFor('id-3', 'Parley <noreply@bücher.de>')).toBe('<id-3@xn--bcher-kva.de>');
  });
});
