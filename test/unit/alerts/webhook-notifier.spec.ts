import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Alert } from '../../../src/domain/alert';
import { WebhookNotifier } from '../../../src/alerts/webhook-notifier';

const alert = (id: string): Alert => ({ alert_id: id, fingerprint: 'fp', rule: 'R', severity: 'high', labels: { alertname: 'R' }, annotations: {}, value: 1, event_id: 'e', tenant: 't', starts_at: '2026-11-24T10:00:00Z' });

describe('webhook delivery (real local HTTP server)', () => {
  let server: Server;
  let url = '';
  let statuses: number[] = [];
  const bodies: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        bodies.push(b);
        res.writeHead(statuses.shift() ?? 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => {
    bodies.length = 0;
  });

  it('retries 5xx and 429 with backoff, then succeeds', async () => {
    statuses = [503, 429, 200];
    const n = new WebhookNotifier({ url, retries: 3, baseDelayMs: 5, timeoutMs: 2000 });
    await n.notify([alert('a1')]);
    expect(bodies).toHaveLength(3);
    expect(n.stats).toMatchObject({ sent: 1, retried: 2, failed: 0 });
    expect(JSON.parse(bodies[2]).alerts[0]).toMatchObject({ alert_id: 'a1', status: 'firing' });
  });

  it('does not retry a 4xx rejection', async () => {
    statuses = [400];
    const n = new WebhookNotifier({ url, retries: 3, baseDelayMs: 5, timeoutMs: 2000 });
    await n.notify([alert('a2')]);
    expect(bodies).toHaveLength(1);
    expect(n.stats.failed).toBe(1);
  });

  it('notifies once per alert id', async () => {
    statuses = [];
    const n = new WebhookNotifier({ url, retries: 1, baseDelayMs: 5, timeoutMs: 2000 });
    await n.notify([alert('a3')]);
    await n.notify([alert('a3')]);
    expect(bodies).toHaveLength(1);
    expect(n.stats.deduplicated).toBe(1);
  });

  it('gives up after the configured retries when the receiver is down', async () => {
    const n = new WebhookNotifier({ url: 'http://127.0.0.1:1/', retries: 2, baseDelayMs: 5, timeoutMs: 500 });
    await n.notify([alert('a4')]);
    expect(n.stats).toMatchObject({ sent: 0, failed: 1, retried: 2 });
  });
});
