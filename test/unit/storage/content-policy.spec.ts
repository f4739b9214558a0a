import { applyPolicy, redact } from '../../../src/storage/content-policy';

describe('content policy', () => {
  it('redacts personal data and secrets with typed placeholders', () => {
    const s = redact('mail jane.doe@example.com or call +1 415-555-0123, card 4111 1111 1111 1111, key sk-abcdefghijklmnopqrstuvwx, host 10.1.2.3');
    expect(s).toBe('mail [EMAIL] or call [PHONE], card [CARD_OR_ACCOUNT], key [SECRET], host [IP]');
  });

  it('keeps only digests under the hash policy', () => {
    const [m] = applyPolicy([{ role: 'user', content: 'secret plans' }], 'hash');
    expect(m).toEqual({ role: 'user', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(m)).not.toContain('secret');
  });

  it('keeps text as is under the full policy', () => {
    expect(applyPolicy([{ role: 'user', content: 'a@b.co' }], 'full')).toEqual([{ role: 'user', content: 'a@b.co' }]);
  });
});
