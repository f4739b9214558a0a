/**
 * Redaction end to end through the worker: the fixture corpus, metadata and user policies, and
 * token evidence. Every sensitive substring of the corpus must be gone, and so must every 8+
 * character fragment of it (a partial mask such as "DE89 3704 [CARD_OR_ACCOUNT]" leaks the
 * bank code); benign texts must come back unchanged.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { CONCEPT_IDS } from '../../../src/domain/concepts';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import type { ConceptResult, TokenEvidence } from '../../../src/domain/scored-event';
import {
  applyMetadataPolicy, applyPolicy, applyUserPolicy, findMessageSpans, policyToken, redact, redactMany, redactScored, sha256,
} from '../../../src/storage/content-policy';
import { DEPTH_LIMIT, MAX_DEPTH } from '../../../src/storage/redaction/metadata-policy';
import { closeSharedSpanScanner } from '../../../src/storage/redaction/redaction-scanner';
import { findSensitiveSpans } from '../../../src/storage/redaction/sensitive-spans';
import { Pseudonyms, PseudonymKeyError } from '../../../src/storage/redaction/pseudonyms';
import { storedUserForms } from '../../../src/storage/erasure.repository';

const digest = Pseudonyms.fromKey(Buffer.alloc(32, 1)).digest;

interface SensitiveCase {
  id: string;
  text: string;
  sensitive: string[];
  kinds: string[];
}

interface Corpus {
  sensitive: SensitiveCase[];
  benign: Array<{ id: string; text: string }>;
}

const corpus = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'redaction', 'pii-corpus.json'), 'utf8')) as Corpus;

const FRAGMENT = 8;

function fragments(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + FRAGMENT <= s.length; i++) out.push(s.slice(i, i + FRAGMENT));
  return out;
}

/** What is left of a text once its sensitive substrings are cut out: fragments found here are context, not leaks. */
function context(c: SensitiveCase): string {
  return c.sensitive.reduce((t, s) => t.split(s).join('\u0000'), c.text);
}

function leaks(c: SensitiveCase, redacted: string): string[] {
  const ctx = context(c);
  return c.sensitive.flatMap((s) => [s, ...fragments(s)].filter((f) => redacted.includes(f) && (f === s || !ctx.includes(f))));
}

afterAll(closeSharedSpanScanner);

describe('redaction corpus', () => {
  let redacted: string[];
  beforeAll(async () => {
    redacted = await redactMany(corpus.sensitive.map((c) => c.text));
  });

  it('is big enough to mean something', () => {
    expect(corpus.sensitive.length).toBeGreaterThanOrEqual(80);
    expect(corpus.benign.length).toBeGreaterThanOrEqual(20);
    const kinds = new Set(corpus.sensitive.flatMap((c) => c.kinds));
    expect([...kinds].sort()).toEqual(['CARD_OR_ACCOUNT', 'EMAIL', 'IBAN', 'IP', 'JWT', 'PASSWORD', 'PHONE', 'PRIVATE_KEY', 'SECRET', 'SSN']);
  });

  it.each(corpus.sensitive.map((c, i) => [c.id, i] as const))('%s: no sensitive substring or 8-character fragment survives', (_id, i) => {
    expect({ id: corpus.sensitive[i].id, leaks: leaks(corpus.sensitive[i], redacted[i]) }).toEqual({ id: corpus.sensitive[i].id, leaks: [] });
  });

  it.each(corpus.sensitive.map((c, i) => [c.id, i] as const))('%s: typed placeholders', (_id, i) => {
    const missing = corpus.sensitive[i].kinds.filter((k) => !redacted[i].includes(`[${k}]`));
    expect({ id: corpus.sensitive[i].id, missing, redacted: redacted[i] }).toMatchObject({ missing: [] });
  });

  it('leaves benign texts unchanged (dates, prices, versions, order numbers, code)', async () => {
    const out = await redactMany(corpus.benign.map((b) => b.text));
    const changed = corpus.benign.map((b, i) => ({ id: b.id, got: out[i], want: b.text })).filter((c) => c.got !== c.want);
    expect(changed).toEqual([]);
  });

  it('masks a dotted quad even when it may be a version, but not one glued to a "v"', async () => {
    expect(await redact('upgrade to 1.2.3.4 (build v1.2.3.4)')).toBe('upgrade to [IP] (build v1.2.3.4)');
  });
});

describe('sensitive spans', () => {
  it('are sorted, merged and in UTF-16 code units', async () => {
    const text = '😀 mail a.b@example.com, then https://admin:pw1234@example.com/x';
    const spans = await findSensitiveSpans(text);
    // The URL credentials contain an e-mail-like "pw1234@example.com": one span, the stronger kind.
    expect(spans.map((s) => [text.slice(s.start, s.end), s.kind])).toEqual([
      ['a.b@example.com', 'EMAIL'],
      [expect.stringContaining('admin:pw1234'), 'SECRET'],
    ]);
    expect(spans[0].start).toBe(8);
    for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
  });

  it('keeps the whole IBAN in one span (no readable bank code next to a placeholder)', async () => {
    expect(await redact('to DE89 3704 0044 0532 0130 00.')).toBe('to [IBAN].');
  });
});

describe('message policy', () => {
  const messages = [{ role: 'user' as const, content: 'I am jane@example.com' }, { role: 'assistant' as const, content: 'Hello!' }];

  it('redacts each message, reusing spans found once', async () => {
    const spans = await findMessageSpans(messages);
    expect(await applyPolicy(messages, 'redacted', spans)).toEqual([{ role: 'user', content: 'I am [EMAIL]' }, { role: 'assistant', content: 'Hello!' }]);
    expect(await applyPolicy(messages, 'redacted')).toEqual(await applyPolicy(messages, 'redacted', spans));
  });
});

describe('metadata policy', () => {
  const metadata = {
    customer: { email: 'jane@example.com', tier: 'gold', phones: ['+44 20 7946 0958', 'none'] },
    'ops@example.com': 'owner',
    'bob@example.com': 'backup',
    card_on_file: 4111111111111111,
    count: 3,
    flag: true,
    nothing: null,
  };

  it('keeps metadata as given under full', async () => {
    expect(await applyMetadataPolicy(metadata, 'full', digest)).toBe(metadata);
  });

  it('redacts every string value and key, and id-like integers, under redacted', async () => {
    const out = await applyMetadataPolicy(metadata, 'redacted', digest);
    expect(out).toEqual({
      customer: { email: '[EMAIL]', tier: 'gold', phones: ['[PHONE]', 'none'] },
      '[EMAIL]': 'owner',
      '[EMAIL]#2': 'backup',
      card_on_file: '[CARD_OR_ACCOUNT]',
      count: 3,
      flag: true,
      nothing: null,
    });
  });

  it('replaces string values by their keyed digest under hash, and still redacts keys', async () => {
    const out = await applyMetadataPolicy(metadata, 'hash', digest);
    expect(out).toMatchObject({
      customer: { email: digest('jane@example.com'), tier: digest('gold'), phones: [digest('+44 20 7946 0958'), digest('none')] },
      '[EMAIL]': digest('owner'),
      count: 3,
      flag: true,
    });
    expect(JSON.stringify(out)).not.toMatch(/example\.com|gold|7946/);
  });

  it('stops at the depth cap instead of walking without bound', async () => {
    let deep: Record<string, unknown> = { leaf: 'jane@example.com' };
    for (let i = 0; i < MAX_DEPTH + 4; i++) deep = { d: deep };
    const out = JSON.stringify(await applyMetadataPolicy(deep, 'redacted', digest));
    expect(out).toContain(DEPTH_LIMIT);
    expect(out).not.toContain('jane@example.com');
  });
});

describe('user policy', () => {
  it('keeps an opaque id, pseudonymises one that is personal data, digests under hash, all keyed', async () => {
    expect(await applyUserPolicy('u-1842', 'redacted', digest)).toBe('u-1842');
    const email = await applyUserPolicy('jane@example.com', 'redacted', digest);
    expect(email).toBe(`user:${digest('jane@example.com').slice(0, 16)}`);
    // Stable, so rules that group and count by user still work.
    expect(await applyUserPolicy('jane@example.com', 'redacted', digest)).toBe(email);
    expect(await applyUserPolicy('+44 20 7946 0958', 'redacted', digest)).toMatch(/^user:[0-9a-f]{16}$/);
    expect(await applyUserPolicy('jane@example.com', 'hash', digest)).toBe(`hmac:${digest('jane@example.com')}`);
    expect(await applyUserPolicy('jane@example.com', 'full', digest)).toBe('jane@example.com');
    expect(await applyUserPolicy(undefined, 'redacted', digest)).toBeUndefined();
    // Not the unkeyed sha256 anyone could compute from a candidate id, and another deployment's key gives another pseudonym.
    expect(email).not.toContain(sha256('jane@example.com').slice(0, 16));
    const elsewhere = Pseudonyms.fromKey(Buffer.alloc(32, 9)).digest;
    expect(await applyUserPolicy('jane@example.com', 'redacted', elsewhere)).not.toBe(email);
  });
});

describe('pseudonym key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-pseudonym-'));

  it('is created once with mode 0600, then read back, and gives HMAC-SHA256', () => {
    const file = path.join(dir, 'sub', 'pseudonym.key');
    const first = Pseudonyms.readOrCreate(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = Pseudonyms.readOrCreate(file);
    expect(again.created).toBe(false);
    expect(again.pseudonyms.digest('x')).toBe(first.pseudonyms.digest('x'));
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    expect(key.length).toBe(32);
    expect(first.pseudonyms.digest('x')).toBe(createHmac('sha256', key).update('x').digest('hex'));
  });

  it('refuses a short or malformed key without printing it', () => {
    expect(() => Pseudonyms.fromKey(Buffer.alloc(8))).toThrow(PseudonymKeyError);
    const bad = path.join(dir, 'bad.key');
    writeFileSync(bad, 'not-hex-secret-value\n');
    expect(() => Pseudonyms.read(bad)).toThrow(/not a hex-encoded key/);
    expect(() => Pseudonyms.read(bad)).not.toThrow(/secret-value/);
    expect(Pseudonyms.read(path.join(dir, 'absent.key'))).toBeUndefined();
  });

  it('erasure matches keyed forms and the unkeyed forms stored before the key', () => {
    const forms = storedUserForms('jane@example.com', digest);
    expect(forms).toEqual(expect.arrayContaining(['jane@example.com', `hmac:${digest('jane@example.com')}`, `user:${digest('jane@example.com').slice(0, 16)}`,
      `sha256:${sha256('jane@example.com')}`, `user:${sha256('jane@example.com').slice(0, 16)}`]));
    expect(storedUserForms('jane@example.com')).toHaveLength(3);
  });
});

describe('token evidence', () => {
  const secret = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
  const user = `my key is ${secret} ok`;
  const at = user.indexOf(secret);
  const messages = [{ role: 'system' as const, content: 'Be nice.' }, { role: 'user' as const, content: user }];
  const tok = (index: number, token: string, loc: Partial<TokenEvidence>): TokenEvidence => ({ index, token, activation: 1, ...loc });
  const tokens: TokenEvidence[] = [
    tok(10, ' key', { message: 1, start: 2, end: 6 }),
    tok(11, ' sk', { message: 1, start: at - 1, end: at + 2 }), // partly before the secret
    tok(12, '_test_4', { message: 1, start: at + 2, end: at + 9 }), // inside
    tok(13, 'dc ok', { message: 1, start: at + secret.length - 2, end: at + secret.length + 3 }), // partly after
    tok(14, ' ok', { message: 1, start: at + secret.length, end: at + secret.length + 3 }), // touches, no overlap
    tok(2, '<|im_start|>', {}), // template markup
    tok(15, 'AKIA', { message: 1 }), // content token whose offsets could not be aligned
    tok(3, 'jane@example.com', {}), // markup that happens to look like an address: judged on its own
  ];
  function scoredWith(top: TokenEvidence[]): ScoredEvent {
    const concept = (features: ConceptResult['features']): ConceptResult => ({
      score: 0.9, threshold: 0.5, flagged: true, detector: 'sae', scores: { sae: 0.9, dense: 0.1 }, in_scope: true, tokens_in_scope: 20, features,
    });
    const concepts = Object.fromEntries(CONCEPT_IDS.map((c) => [c, concept([])])) as ScoredEvent['concepts'];
    concepts.harmful_intent = concept([{ feature: 7, label: 'credentials', activation: 2, mean_activation: 1, top_tokens: top }]);
    return { id: 'ev-1', pack: { id: 'p', version: '1' }, truncated: false, tokens: 40, tokens_scored: 40, concepts };
  }
  const scored = scoredWith(tokens);
  const tokensOf = (s: ScoredEvent): string[] => s.concepts.harmful_intent.features[0].top_tokens.map((t) => t.token);

  it('masks every token overlapping a secret of its message, even partly, and nothing else', async () => {
    const out = await redactScored(messages, scored, 'redacted');
    expect(tokensOf(out)).toEqual([' key', '[SECRET]', '[SECRET]', '[SECRET]', ' ok', '<|im_start|>', '[REDACTED]', '[EMAIL]']);
    // Positions and the rest of the shape are kept; the input is not modified.
    expect(out.concepts.harmful_intent.features[0].top_tokens[1]).toEqual({ index: 11, token: '[SECRET]', activation: 1, message: 1, start: at - 1, end: at + 2 });
    expect(tokensOf(scored)[1]).toBe(' sk');
    expect(out.concepts.deception).toEqual(scored.concepts.deception);
  });

  it('masks the concept-level token contributions the same way', async () => {
    const withTokens = scoredWith([]);
    withTokens.concepts.harmful_intent = { ...withTokens.concepts.harmful_intent, tokens };
    const out = await redactScored(messages, withTokens, 'redacted');
    expect((out.concepts.harmful_intent.tokens ?? []).map((t) => t.token)).toEqual([' key', '[SECRET]', '[SECRET]', '[SECRET]', ' ok', '<|im_start|>', '[REDACTED]', '[EMAIL]']);
    expect((await redactScored(messages, withTokens, 'hash')).concepts.harmful_intent.tokens?.every((t) => t.token === '')).toBe(true);
    expect(withTokens.concepts.harmful_intent.tokens?.[1].token).toBe(' sk');
  });

  it('empties every token under hash and keeps them under full', async () => {
    expect(tokensOf(await redactScored(messages, scored, 'hash')).every((t) => t === '')).toBe(true);
    expect(tokensOf(await redactScored(messages, scored, 'full'))).toEqual(tokens.map((t) => t.token));
  });

  it('policyToken judges a lone token with the local detectors', () => {
    expect(policyToken('jane@example.com', 'redacted')).toBe('[EMAIL]');
    expect(policyToken(' hello', 'redacted')).toBe(' hello');
    expect(policyToken(' hello', 'hash')).toBe('');
  });
});
