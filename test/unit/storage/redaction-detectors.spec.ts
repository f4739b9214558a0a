/**
 * The pieces of redaction on their own: span arithmetic, secretlint result mapping, detector
 * edge cases, linear time on hostile input, and the worker failing closed.
 */
import { luhnValid } from '../../../src/storage/redaction/detectors/card-ssn.detector';
import { PHONE_BUDGET, phoneRuns, regionText } from '../../../src/storage/redaction/detectors/phone-candidates';
import { findLocalSpans, LOCAL_DETECTORS } from '../../../src/storage/redaction/local-detectors';
import { RedactionUnavailableError, WorkerSpanScanner } from '../../../src/storage/redaction/redaction-scanner';
import { findingsOf, joinTexts, splitFindings } from '../../../src/storage/redaction/secretlint-findings';
import { redact } from '../../../src/storage/redaction/sensitive-spans';
import { firstOverlap, mergeSpans, replaceSpans, SensitiveSpan } from '../../../src/storage/redaction/sensitive-span';

const kinds = (text: string): Array<[string, string]> => findLocalSpans(text).map((s) => [text.slice(s.start, s.end), s.kind]);

describe('span arithmetic', () => {
  it('merges overlapping spans into the most specific kind, keeps touching spans of different kinds apart', () => {
    const spans: SensitiveSpan[] = [
      { start: 10, end: 20, kind: 'EMAIL' }, { start: 0, end: 4, kind: 'IP' }, { start: 15, end: 30, kind: 'SECRET' },
      { start: 30, end: 35, kind: 'PHONE' }, { start: 35, end: 36, kind: 'PHONE' }, { start: 40, end: 40, kind: 'SSN' },
    ];
    expect(mergeSpans(spans)).toEqual([
      { start: 0, end: 4, kind: 'IP' }, { start: 10, end: 30, kind: 'SECRET' }, { start: 30, end: 36, kind: 'PHONE' },
    ]);
  });

  it('finds the span a character range overlaps, and none for a range that only touches', () => {
    const spans = mergeSpans([{ start: 5, end: 10, kind: 'EMAIL' }, { start: 20, end: 25, kind: 'IP' }]);
    expect(firstOverlap(spans, 9, 12)?.kind).toBe('EMAIL');
    expect(firstOverlap(spans, 10, 20)).toBeUndefined();
    expect(firstOverlap(spans, 0, 5)).toBeUndefined();
    expect(firstOverlap(spans, 0, 100)?.kind).toBe('EMAIL');
    expect(firstOverlap(spans, 24, 25)?.kind).toBe('IP');
    expect(firstOverlap(spans, 7, 7)).toBeUndefined();
  });

  it('replaces spans with typed placeholders', () => {
    expect(replaceSpans('a 1.2.3.4 b', [{ start: 2, end: 9, kind: 'IP' }])).toBe('a [IP] b');
  });
});

describe('secretlint results', () => {
  it('masks the reported value where the rule reports the wrong range (secretlint-rule-aws)', () => {
    const text = 'aws_secret_access_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij1234"';
    const value = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij1234';
    // As secretlint 12 reports it: the start of the assignment, with the length of the value.
    const found = findingsOf(text, [{ ruleId: '@secretlint/secretlint-rule-aws', range: [0, 40], data: { KEY: value } }]);
    expect(found.map((f) => text.slice(f.start, f.end))).toContain(value);
  });

  it('scans many texts as one and maps findings back, clipped to each text', () => {
    const texts = ['short', 'first text here', 'second text here'];
    const { joined, offsets } = joinTexts(texts);
    expect(offsets[0]).toBe(-1);
    expect(joined.slice(offsets[2], offsets[2] + texts[2].length)).toBe(texts[2]);
    // A finding from "here" in text 1 across the separator into "second".
    const spans = splitFindings(texts, offsets, [{ start: offsets[1] + 11, end: offsets[2] + 6, ruleId: '@secretlint/secretlint-rule-privatekey' }]);
    expect(spans[0]).toEqual([]);
    expect(spans[1]).toEqual([{ start: 11, end: 15, kind: 'PRIVATE_KEY' }]);
    expect(spans[2]).toEqual([{ start: 0, end: 6, kind: 'PRIVATE_KEY' }]);
  });
});

describe('detectors', () => {
  it('validates card numbers with Luhn and the issuer range', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(kinds('card 4111 1111 1111 1112')).toEqual([]);
    // Luhn-valid but starting with 1 or 9: not a payment card.
    expect(kinds('ref 1000000000000008')).toEqual([]);
  });

  it('tells IPv6 addresses from C++ scopes, clock times and MAC-like strings', () => {
    expect(kinds('std::vector a::b 12:30:45')).toEqual([]);
    expect(kinds('at fe80::1, then ::1.')).toEqual([['fe80::1', 'IP'], ['::1', 'IP']]);
    expect(kinds('999.1.1.1 and 10.0.0.256')).toEqual([]);
  });

  it('masks the value of an assignment, not the key', () => {
    expect(replaceSpans('DB_PASSWORD="p w"', findLocalSpans('DB_PASSWORD="p w"'))).toBe('DB_PASSWORD="[PASSWORD]"');
  });

  it('masks a private key cut off before its END line up to where prose resumes', () => {
    const text = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAfakefakefakefakefake0\nZ2VuZXJhdGVk=\nwhat is wrong?';
    expect(replaceSpans(text, findLocalSpans(text))).toBe('[PRIVATE_KEY]\nwhat is wrong?');
  });

  it('shows libphonenumber only runs that can hold a number, within a budget, and masks the overflow', () => {
    expect(phoneRuns('1 1 1 1 1 1 1 1 1 1 1 1 1.1.1.1.1.1.1').read).toEqual([]);
    const text = 'a 020 7946 0958. b';
    const { read } = phoneRuns(text);
    expect(read.map((r) => text.slice(r.start, r.end))).toEqual(['020 7946 0958']);
    expect(regionText('x1 +2 and 020 7946 0958', phoneRuns('x1 +2 and 020 7946 0958').read)).toBe('xz zz and 020 7946 0958');
    const flood = '020 7946 0958, '.repeat(Math.ceil((2 * PHONE_BUDGET) / 15));
    const { read: r2, overflow } = phoneRuns(flood);
    expect(r2.length).toBeGreaterThan(0);
    expect(overflow.length).toBeGreaterThan(0);
    expect(replaceSpans(flood, findLocalSpans(flood))).not.toMatch(/\d/);
  });
});

describe('hostile input', () => {
  const N = 100_000;
  const fill = (unit: string): string => unit.repeat(Math.ceil(N / unit.length)).slice(0, N);
  const inputs = ['1 ', '+1-', '1.1.1.1.', '4111 ', 'a.', 'a@', 'eyJabcdefgh.', 'eyJ-', 'password=', '-----BEGIN RSA PRIVATE KEY-----\n', 'ab:', '://a:', 'Bearer ', 'DE89 ', '1234567890 '];

  // Each takes well under 100 ms; a quadratic scan of 100k characters would take minutes.
  it.each(inputs)('%j x 100k characters: every detector finishes quickly', (unit) => {
    const text = fill(unit);
    for (const detect of LOCAL_DETECTORS) {
      const t0 = performance.now();
      detect(text);
      expect({ detector: detect.name, slow: performance.now() - t0 > 2_000 }).toEqual({ detector: detect.name, slow: false });
    }
  });
});

describe('worker scanner', () => {
  it('fails closed when the worker cannot start in time', async () => {
    const scanner = new WorkerSpanScanner({ timeoutMs: 1 });
    await expect(scanner.scan(['jane@example.com'])).rejects.toBeInstanceOf(RedactionUnavailableError);
    await scanner.close();
  });

  it('ignores "secretlint-disable" comments in the text (they would switch secret detection off)', async () => {
    const scanner = new WorkerSpanScanner();
    const hook = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
    // Only secretlint knows Slack webhooks, so this is its finding or none.
    expect(findLocalSpans(hook)).toEqual([]);
    const text = `// secretlint-disable\nexport const hook = '${hook}';`;
    expect(await redact(text, scanner)).toBe("// secretlint-disable\nexport const hook = '[SECRET]';");
    await scanner.close();
  });

  it('scans after a restart', async () => {
    const scanner = new WorkerSpanScanner();
    expect((await scanner.scan(['mail jane@example.com']))[0]).toEqual([{ start: 5, end: 21, kind: 'EMAIL' }]);
    await scanner.close();
    await expect(scanner.scan(['x'.repeat(10)])).resolves.toEqual([[]]);
    await scanner.close();
  });
});
