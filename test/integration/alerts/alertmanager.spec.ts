/**
 * alertmanager_configs against a real Alertmanager (Debian's prometheus-alertmanager 0.25, run by
 * the same harness as `npm run infra -- alertmanager start`): pushed alerts appear in its
 * /api/v2/alerts with `alertname` = the rule, grouped by its own route, and resolve there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { readAlertingConfig } from '../../../src/alerts/alerting/alerting-config';
import { AlertDispatcher } from '../../../src/alerts/delivery/dispatcher';
import { DeliveryWorker } from '../../../src/alerts/delivery/delivery-worker';
import { resolveRuntimePaths } from '../../../src/config/runtime-paths';
import { Alert, alertId, fingerprint } from '../../../src/domain/alert';
import { Alertmanager, ensureAlertmanager, TEMPLATE_DIR } from '../../../tools/infra/alertmanager';
import { freePort } from '../../../tools/infra/process-util';
import { AlertDeliveryRepository } from '../../../src/storage/alert-delivery.repository';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { migrate } from '../../../src/storage/migrator';
import { skipNote } from '../../support/real-model';
import { until } from '../../support/until';

jest.setTimeout(180_000);

function prerequisite(): string | null {
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' });
  let reason: string | null = null;
  if (apt.error || apt.status !== 0) reason = 'apt-get not found: the Alertmanager test downloads Debian\'s prometheus-alertmanager';
  else if (!existsSync(path.join(TEMPLATE_DIR, 'default.tmpl')) && process.getuid?.() !== 0) reason = `Debian's Alertmanager needs ${TEMPLATE_DIR} (install prometheus-alertmanager, or run as root)`;
  if (reason && process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

function alert(rule: string, tenant: string, concept: string): Alert {
  const labels = { alertname: rule, severity: 'critical', tenant, concept };
  const fp = fingerprint(labels);
  const at = new Date().toISOString();
  return { alert_id: alertId(fp, `${rule}-${concept}`), fingerprint: fp, rule, severity: 'critical', labels, annotations: { summary: `${rule} (${concept})` }, value: 1, event_id: `ev-${concept}`, tenant, starts_at: at, ts: at, kind: 'windowed' };
}

interface AmAlert { labels: Record<string, string>; annotations: Record<string, string>; status: { state: string }; endsAt: string }
interface AmGroup { labels: Record<string, string>; alerts: AmAlert[] }

describe('alertmanager_configs (real Alertmanager)', () => {
  const skip = prerequisite();
  let am: Alertmanager | null = null;
  let client: ClickHouseClient;

  beforeAll(async () => {
    if (skip) return;
    const quiet = { step: (m: string) => process.stderr.write(`[harness] ${m}\n`) };
    const bin = ensureAlertmanager(path.join(resolveRuntimePaths().dataDir, 'cache'), quiet);
    am = new Alertmanager(mkdtempSync(path.join(tmpdir(), 'pw-am-')), bin);
    await am.start(quiet, { port: await freePort() });
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-am-db-')), 'db'), database: 'pwam' });
    await migrate(client);
  });
  afterAll(async () => {
    await am?.destroy();
    await client?.close();
  });

  it('pushes firing alerts (alertname = rule) that Alertmanager groups, then resolves them there', async () => {
    if (skip) return skipNote(skip);
    const url = am!.info()!.url;
    const { config } = readAlertingConfig('alerting.yaml', `
route: {receiver: am, group_by: [rule, tenant], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: am
    alertmanager_configs: [{url: '${url}'}]
`, {});
    const repo = new AlertDeliveryRepository(client);
    const worker = new DeliveryWorker(repo, () => config!, 'am-test', { kafka: null }, { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500, concurrency: 4, pollMs: 50 });
    const d = new AlertDispatcher({ repo, config: () => config!, evidence: async () => null, latestAlerts: async () => [], silences: () => [], instance: 'am-test',
      externalURL: 'http://probewatch.test', onQueued: () => worker.wake() });
    worker.start();
    const a = [alert('Harmful Intent Request', 'acme', 'harmful_intent'), alert('Harmful Intent Request', 'acme', 'prompt_injection')];
    try {
      await d.raised(a);
      await d.tick();
      const groups = await until(async () => {
        const res = await fetch(`${url}/api/v2/alerts/groups`);
        const g = (await res.json()) as AmGroup[];
        return g.find((x) => x.labels.alertname === 'Harmful Intent Request' && x.alerts.length === 2) ? g : null;
      }, 30_000);
      const group = groups.find((x) => x.labels.alertname === 'Harmful Intent Request')!;
      expect(group.labels).toEqual({ alertname: 'Harmful Intent Request', tenant: 'acme' });
      for (const x of group.alerts) {
        expect(x.status.state).toBe('active');
        expect(x.labels).toMatchObject({ rule: 'Harmful Intent Request', severity: 'critical', tenant: 'acme' });
        expect(x.annotations.probewatch_event).toMatch(/^http:\/\/probewatch\.test\/v1\/events\/ev-/);
      }
      // Resolved in probewatch: Alertmanager no longer lists them as active.
      await d.resolved(a.map((x) => ({ ...x, ends_at: new Date().toISOString() })));
      await new Promise((r) => setTimeout(r, 1100));
      await d.tick();
      await until(async () => {
        const res = await fetch(`${url}/api/v2/alerts?active=true&filter=alertname%3D%22Harmful%20Intent%20Request%22`);
        return ((await res.json()) as AmAlert[]).length === 0;
      }, 30_000);
      const log = await repo.list({ tenants: ['acme'], limit: 10 });
      expect(log.map((n) => `${n.status}/${n.outcome}`).sort()).toEqual(['firing/sent', 'resolved/sent']);
    } finally {
      await worker.stop();
    }
  });
});
