import { DEFAULT_EVENT_LIMITS, EventLimits, validateEvent } from '../../../src/ingest/event-contract';
import { parseRfc3339 } from '../../../src/ingest/rfc3339';

const NOW = Date.parse('2026-11-30T07:00:00Z');
const live: EventLimits = { ...DEFAULT_EVENT_LIMITS, timeWindow: { maxAgeMs: 90 * 86_400_000, maxSkewMs: 3_600_000 } };

const good = {
  id: 'e1',
  timestamp: '2026-11-24T10:00:00Z',
  tenant: 'acme',
  source: 'chat-api',
  model: 'gpt-x',
  messages: [{ role: 'user', content: 'hi' }],
};

function fields(input: unknown, limits: EventLimits = live): string[] {
  const r = validateEvent(input, limits, NOW);
  return r.ok ? [] : r.errors.map((e) => e.field);
}

function nested(depth: number, kind: 'object' | 'array'): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = kind === 'object' ? { a: v } : [v];
  return v;
}

describe('event contract', () => {
  it('accepts a valid event, keeps metadata and normalises the timestamp to UTC', () => {
    const r = validateEvent({ ...good, timestamp: '2026-11-24T11:00:00.5+01:00', metadata: { user: 'u1' } }, live, NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.metadata).toEqual({ user: 'u1' });
    expect(r.event.timestamp).toBe('2026-11-24T10:00:00.500Z');
  });

  it('lists every problem with its field, not just the first', () => {
    const r = validateEvent({ id: '', timestamp: 'yesterday', tenant: 'acme', model: 'm', messages: [{ role: 'robot', content: 5 }, 'x'], metadata: [] }, live, NOW);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const f = r.errors.map((e) => e.field);
    expect(f).toEqual(expect.arrayContaining(['id', 'timestamp', 'source', 'messages[0].role', 'messages[0].content', 'messages[1]', 'metadata']));
  });

  it('rejects non-objects and empty conversations', () => {
    expect(validateEvent('hello')).toEqual({ ok: false, errors: [{ field: '', message: 'event must be a JSON object' }] });
    expect(fields({ ...good, messages: [] })).toEqual(['messages']);
  });

  it('enforces content and message-count limits', () => {
    const limits = { ...live, maxMessages: 2, maxContentChars: 5, maxIdChars: 8 };
    expect(fields({ ...good, id: 'x'.repeat(9), messages: [{ role: 'user', content: 'too long' }] }, limits)).toEqual(['id', 'messages[0].content']);
    expect(fields({ ...good, messages: [1, 2, 3].map(() => ({ role: 'user', content: 'x' })) }, limits)).toEqual(['messages']);
  });

  describe('timestamp: RFC 3339 inside [now - retention, now + skew]', () => {
    it.each([
      ['1850-01-01T00:00:00Z'], ['2000-01-01T00:00:00Z'], ['2400-01-01T00:00:00Z'], ['9999-12-31T23:59:59Z'], ['0001-01-01T00:00:00Z'],
      ['1'], ['2026-02-30T00:00:00Z'], ['2026-11-24'], ['Tue, 24 Nov 2026 10:00:00 GMT'], ['2026-11-24T10:00:00'], ['2026-11-24T10:00:60Z'],
      ['2026-11-24T24:00:00Z'], ['2026-11-24T10:00:00+25:00'], ['2026-11-30T08:30:00Z'], ['2026-08-01T00:00:00Z'], [''], ['+275760-09-13T00:00:00Z'],
    ])('rejects %s', (ts) => {
      expect(fields({ ...good, timestamp: ts })).toEqual(['timestamp']);
    });

    it('accepts the window edges and offsets', () => {
      expect(fields({ ...good, timestamp: '2026-11-30T07:59:59Z' })).toEqual([]);
      expect(fields({ ...good, timestamp: '2026-09-01T07:00:00Z' })).toEqual([]);
      expect(fields({ ...good, timestamp: '2026-11-30T02:00:00-05:00' })).toEqual([]);
    });

    it('offline limits accept any storable date, not impossible ones', () => {
      expect(fields({ ...good, timestamp: '2001-01-01T00:00:00Z' }, DEFAULT_EVENT_LIMITS)).toEqual([]);
      expect(fields({ ...good, timestamp: '1850-01-01T00:00:00Z' }, DEFAULT_EVENT_LIMITS)).toEqual(['timestamp']);
      expect(fields({ ...good, timestamp: '2024-02-29T00:00:00Z' }, DEFAULT_EVENT_LIMITS)).toEqual([]);
      expect(fields({ ...good, timestamp: '2025-02-29T00:00:00Z' }, DEFAULT_EVENT_LIMITS)).toEqual(['timestamp']);
    });

    it('parses RFC 3339 exactly', () => {
      expect(parseRfc3339('2026-11-30T07:00:00.123456789Z')).toBe(Date.parse('2026-11-30T07:00:00.123Z'));
      expect(new Date(parseRfc3339('0099-01-01T00:00:00Z') as number).getUTCFullYear()).toBe(99);
      expect(parseRfc3339('2026-11-30 07:00:00Z')).toBeNull();
    });
  });

  describe('identifiers', () => {
    it.each([
      ['tenant', 'ac\u0000me'], ['tenant', 'acme\n'], ['tenant', '\u0430cme'], ['tenant', 'x'.repeat(129)], ['source', 'chat api'],
      ['model', '\u202egpt'], ['model', '-leading-dash'], ['id', 'has space'], ['id', 'naïve'], ['id', 'x'.repeat(257)],
    ])('rejects %s %j', (field, value) => {
      expect(fields({ ...good, [field]: value })).toEqual([field]);
    });

    it('accepts usual names', () => {
      expect(fields({ ...good, tenant: 'tenant_a.eu-1', source: 'chat-api/v2', model: 'meta-llama/Llama-3.1-8B+lora', id: '0b8f3c1e-4c1d-4d5e-9a7b-1c2d3e4f5a6b:turn-3' })).toEqual([]);
    });

    it('user: printable, bounded', () => {
      expect(fields({ ...good, user: 'jörg@example.com' })).toEqual([]);
      expect(fields({ ...good, user: 'u\u0000' })).toEqual(['user']);
      expect(fields({ ...good, user: 'a\u200bb' })).toEqual(['user']);
      expect(fields({ ...good, user: 'x'.repeat(257) })).toEqual(['user']);
    });

    it('content: no NUL, no lone surrogates; tabs and newlines are fine', () => {
      expect(fields({ ...good, messages: [{ role: 'user', content: 'a\tb\r\nc 😀' }] })).toEqual([]);
      expect(fields({ ...good, messages: [{ role: 'user', content: 'a\u0000b' }] })).toEqual(['messages[0].content']);
      expect(fields({ ...good, messages: [{ role: 'user', content: 'a\ud800b' }] })).toEqual(['messages[0].content']);
    });
  });

  describe('metadata', () => {
    it('rejects deep nesting without recursion (5,000 objects, 100,000 arrays)', () => {
      const r1 = validateEvent({ ...good, metadata: { x: nested(5000, 'object') } }, live, NOW);
      const r2 = validateEvent({ ...good, metadata: { x: nested(100_000, 'array') } }, live, NOW);
      for (const r of [r1, r2]) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.errors[0].message).toMatch(/nested deeper than 8 levels/);
      }
    });

    it('accepts 8 levels, rejects 9', () => {
      expect(fields({ ...good, metadata: nested(8, 'object') as Record<string, unknown> })).toEqual([]);
      expect(fields({ ...good, metadata: nested(9, 'object') as Record<string, unknown> })).toEqual(['metadata.a.a.a.a.a.a.a.a']);
    });

    it('bounds size, values, keys and text', () => {
      expect(fields({ ...good, metadata: { big: 'x'.repeat(20_000) } })).toEqual(['metadata']);
      expect(fields({ ...good, metadata: { list: Array.from({ length: 3000 }, (_, i) => i) } })).toEqual(['metadata']);
      expect(fields({ ...good, metadata: { ['k'.repeat(200)]: 1 } })).toHaveLength(1);
      expect(fields({ ...good, metadata: { s: 'a\u0000' } })).toEqual(['metadata.s']);
      expect(fields({ ...good, metadata: { 'bad\u0007key': 1 } })).toHaveLength(1);
    });
  });
});
