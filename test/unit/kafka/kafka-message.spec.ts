import { DEFAULT_EVENT_LIMITS } from '../../../src/ingest/event-contract';
import { decodeEventMessage, dlqHeaders } from '../../../src/kafka/kafka-message';
import { parseKafkaSettings } from '../../../src/kafka/kafka-settings';

const limits = { ...DEFAULT_EVENT_LIMITS, maxMessages: 4, maxContentChars: 100, maxIdChars: 64 };
const good = { id: 'e1', timestamp: '2026-11-24T10:00:00.000Z', tenant: 't', source: 's', model: 'm', messages: [{ role: 'user', content: 'hi' }] };

describe('Kafka message decoding', () => {
  it('accepts a valid event', () => {
    const d = decodeEventMessage(Buffer.from(JSON.stringify(good)), 1024, limits);
    expect(d).toEqual({ ok: true, event: good });
  });

  it.each([
    ['empty', null, 'empty', /no value/],
    ['empty buffer', Buffer.alloc(0), 'empty', /no value/],
    ['oversize', Buffer.from(JSON.stringify({ ...good, pad: 'x'.repeat(2000) })), 'oversize', /more than the limit of 1024/],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x81]), 'not_utf8', /not valid UTF-8/],
    ['truncated JSON', Buffer.from('{"id": "x", '), 'invalid_json', /invalid JSON/],
    ['array', Buffer.from(JSON.stringify([good])), 'schema', /one event object per message/],
    ['bad role', Buffer.from(JSON.stringify({ ...good, messages: [{ role: 'wizard', content: 'x' }] })), 'schema', /messages\[0\]\.role: must be one of/],
    ['missing tenant', Buffer.from(JSON.stringify({ ...good, tenant: undefined })), 'schema', /tenant: required/],
  ])('classifies %s', (_name, value, code, reason) => {
    const d = decodeEventMessage(value as Buffer | null, 1024, limits);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.code).toBe(code);
      expect(d.reason).toMatch(reason);
    }
  });

  it('names the error, the reason and the original position in DLQ headers', () => {
    const h = dlqHeaders({ topic: 'in', partition: 3, offset: '42', timestamp: '1700000000000' }, 'schema', 'tenant: required', [{ field: 'tenant', message: 'required' }], 'i1', new Date('2026-11-24T00:00:00Z'));
    expect(h).toEqual({
      'probewatch-error': 'schema', 'probewatch-reason': 'tenant: required', 'probewatch-fields': '[{"field":"tenant","message":"required"}]',
      'probewatch-original-topic': 'in', 'probewatch-original-partition': '3', 'probewatch-original-offset': '42', 'probewatch-original-timestamp': '1700000000000',
      'probewatch-failed-at': '2026-11-24T00:00:00.000Z', 'probewatch-instance': 'i1',
    });
  });
});

describe('Kafka settings', () => {
  it('is off without KAFKA_BROKERS and has the documented defaults with it', () => {
    const problems: string[] = [];
    expect(parseKafkaSettings({}, problems)).toBeNull();
    const s = parseKafkaSettings({ KAFKA_BROKERS: 'a:9092, b:9093', PROBEWATCH_INSTANCE_ID: 'n1' }, problems);
    expect(problems).toEqual([]);
    expect(s).toMatchObject({ brokers: ['a:9092', 'b:9093'], topic: 'probewatch.events', dlqTopic: 'probewatch.events.dlq', alertsTopic: 'probewatch.alerts',
      groupId: 'probewatch', transactionalId: 'probewatch.probewatch.n1', ssl: null, sasl: null });
  });

  it('lists every problem: broker syntax, SASL without credentials, missing TLS files, bad numbers', () => {
    const problems: string[] = [];
    parseKafkaSettings({ KAFKA_BROKERS: 'nohost', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem', KAFKA_CHUNK_EVENTS: '0', KAFKA_TOPIC: 'bad topic' }, problems);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/KAFKA_BROKERS: 'nohost' is not host:port/),
      expect.stringMatching(/KAFKA_SASL_USERNAME: required/),
      expect.stringMatching(/KAFKA_SASL_PASSWORD .*required/),
      expect.stringMatching(/KAFKA_SSL_CA_FILE=.*file not found/),
      expect.stringMatching(/KAFKA_CHUNK_EVENTS="0"/),
      expect.stringMatching(/KAFKA_TOPIC="bad topic": not a valid topic name/),
    ]));
  });

  it('builds TLS and SASL options', () => {
    const problems: string[] = [];
    const s = parseKafkaSettings({ KAFKA_BROKERS: 'k:9093', KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, problems);
    expect(problems).toEqual([]);
    expect(s?.ssl).toEqual({ rejectUnauthorized: false, ca: undefined, cert: undefined, key: undefined });
    expect(s?.sasl).toEqual({ mechanism: 'plain', username: 'u', password: 'p' });
  });
});
