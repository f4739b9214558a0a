import { applyPolicy, redact } from '../../../src/storage/content-policy';
import { closeSharedSpanScanner } from '../../../src/storage/redaction/redaction-scanner';

describe('content policy', () => {
  afterAll(closeSharedSpanScanner);

  it('redacts personal data and secrets with typed placeholders', async () => {
    const s = await redact('mail jane.doe@example.com or call +1 415-555-0123, card 4111 1111 1111 1111, key sk-abcdefghijklmnopqrstuvwx, host 10.1.2.3');
    expect(s).toBe('mail [EMAIL] or call [PHONE], card [CARD_OR_ACCOUNT], key [SECRET], host [IP]');
  });

  it('keeps only digests under the hash policy', async () => {
    const [m] = await applyPolicy([{ role: 'user', content: 'secret plans' }], 'hash');
    expect(m).toEqual({ role: 'user', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(m)).not.toContain('secret');
  });

  it('keeps text as is under the full policy', async () => {
    expect(await applyPolicy([{ role: 'user', content: 'a@b.co' }], 'full')).toEqual([{ role: 'user', content: 'a@b.co' }]);
  });
});
