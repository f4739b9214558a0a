import { validateEvent } from '../../../src/ingest/event-contract';

const good = {
  id: 'e1',
  timestamp: '2026-11-24T10:00:00Z',
  tenant: 'acme',
  source: 'chat-api',
  model: 'gpt-x',
  messages: [{ role: 'user', content: 'hi' }],
};

describe('event contract', () => {
  it('accepts a valid event and keeps metadata', () => {
    const r = validateEvent({ ...good, metadata: { user: 'u1' } });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event.metadata).toEqual({ user: 'u1' });
  });

  it('lists every problem with its field, not just the first', () => {
    const r = validateEvent({ id: '', timestamp: 'yesterday', tenant: 'acme', model: 'm', messages: [{ role: 'robot', content: 5 }, 'x'], metadata: [] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const fields = r.errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['id', 'timestamp', 'source', 'messages[0].role', 'messages[0].content', 'messages[1]', 'metadata']));
  });

  it('rejects non-objects and empty conversations', () => {
    expect(validateEvent('hello')).toEqual({ ok: false, errors: [{ field: '', message: 'event must be a JSON object' }] });
    const r = validateEvent({ ...good, messages: [] });
    expect(r.ok).toBe(false);
  });

  it('enforces content and message-count limits', () => {
    const limits = { maxMessages: 2, maxContentChars: 5, maxIdChars: 8 };
    const r = validateEvent({ ...good, id: 'x'.repeat(9), messages: [1, 2, 3].map(() => ({ role: 'user', content: 'too long' })) }, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['id', 'messages', 'messages[0].content']));
  });
});
