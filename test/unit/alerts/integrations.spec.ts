/** Receivers never leak their secrets (URLs with tokens, routing keys, HMAC keys) into errors. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { DeliveryError, send } from '../../../src/alerts/delivery/integrations';
import { buildNotification } from '../../../src/alerts/delivery/notification';

const n = buildNotification({ id: 'n1', instance: 'i', receiver: 'r', groupKey: 'g', groupLabels: {}, externalURL: 'http://x', alerts: [{
  status: 'firing', labels: { rule: 'R', severity: 'high', tenant: 't' }, annotations: {}, startsAt: '2026-11-30T00:00:00Z', endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://x', fingerprint: 'f', alert_id: 'a', event_id: 'e', value: 1, evidence: null, links: { alert: 'http://x/a', event: 'http://x/e' },
}] });

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (e) {
    return e as DeliveryError;
  }
  throw new Error('expected a failure');
}

describe('receiver errors', () => {
  it('a webhook URL carrying a token never appears in the error, whether the peer is down or echoes it back', async () => {
    const secretPath = '/hooks/T0KEN-abc123-do-not-log';
    const down = await failure(send({ kind: 'webhook', key: 'webhook_configs[0]', cfg: { url: { kind: 'literal', value: `http://127.0.0.1:9${secretPath}` }, sendResolved: true, maxAlerts: 0, timeoutMs: 2000 } }, n, { kafka: null }));
    expect(down).toBeInstanceOf(DeliveryError);
    expect(down.permanent).toBe(false);
    expect(down.message).not.toContain('T0KEN');

    const server = createServer((req, res) => res.writeHead(500).end(`cannot handle ${req.url} for key hmac-key-secret`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`;
    try {
      const echoed = await failure(send({ kind: 'webhook', key: 'webhook_configs[0]', cfg: { url: { kind: 'literal', value: url }, sendResolved: true, maxAlerts: 0, timeoutMs: 2000,
        hmacSecret: { kind: 'env', name: 'K', value: 'hmac-key-secret' } } }, n, { kafka: null }));
      expect(echoed.message).toMatch(/^HTTP 500: cannot handle <secret>/);
      expect(echoed.message).not.toContain('T0KEN');
      expect(echoed.message).not.toContain('hmac-key-secret');
      const pd = await failure(send({ kind: 'pagerduty', key: 'pagerduty_configs[0]', cfg: { routingKey: { kind: 'literal', value: 'hmac-key-secret' }, url, sendResolved: true } }, n, { kafka: null }));
      expect(pd.message).not.toContain('hmac-key-secret');
    } finally {
      server.close();
    }
  });

  it('a 4xx refusal is permanent; kafka_configs without Kafka says what to set', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end('no such hook'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const e = await failure(send({ kind: 'slack', key: 'slack_configs[0]', cfg: { apiUrl: { kind: 'literal', value: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x` }, sendResolved: false } }, n, { kafka: null }));
      expect(e).toMatchObject({ permanent: true, message: 'HTTP 404: no such hook' });
    } finally {
      server.close();
    }
    const k = await failure(send({ kind: 'kafka', key: 'kafka_configs[0]', cfg: { topic: 'probewatch.alerts', sendResolved: true } }, n, { kafka: null }));
    expect(k).toMatchObject({ permanent: true, message: expect.stringMatching(/KAFKA_BROKERS/) });
  });
});
