/**
 * The dispatcher's grouping, timing, inhibition and mute intervals, on an in-memory stand-in for
 * the notification log (the same paths run on chDB in test/integration/alerts/delivery.spec.ts).
 */
import { readAlertingConfig } from '../../../src/alerts/alerting/alerting-config';
import { AlertDispatcher } from '../../../src/alerts/delivery/dispatcher';
import { Alert, alertId, fingerprint } from '../../../src/domain/alert';
import type { AlertDeliveryRepository, NotificationRecord, StateChange } from '../../../src/storage/alert-delivery.repository';

function memoryLog() {
  const notifications: NotificationRecord[] = [];
  const states: StateChange[] = [];
  const repo = {
    recordStates: async (c: StateChange[]) => void states.push(...c),
    saveNotifications: async (n: NotificationRecord[]) => void notifications.push(...n),
    acks: async () => [],
    recordAck: async () => undefined,
    lastPerGroup: async () => [],
    openSeries: async () => [],
  } as unknown as AlertDeliveryRepository;
  return { repo, notifications, states };
}

let n = 0;
function alert(rule: string, severity: Alert['severity'], tenant: string, extra: Record<string, string> = {}, kind: Alert['kind'] = 'event'): Alert {
  const labels = { alertname: rule, severity, tenant, ...extra };
  const fp = fingerprint(labels);
  const at = new Date(0).toISOString();
  return { alert_id: alertId(fp, `e${++n}`), fingerprint: fp, rule, severity, labels, annotations: {}, value: 1, event_id: `e${n}`, tenant, starts_at: at, ts: at, kind };
}

function setup(yaml: string, start = Date.parse('2026-11-30T10:00:00Z')) {
  const { config, problems } = readAlertingConfig('alerting.yaml', yaml, {});
  if (!config) throw new Error(JSON.stringify(problems));
  const log = memoryLog();
  const clock = { t: start };
  const d = new AlertDispatcher({ repo: log.repo, config: () => config, evidence: async () => null, latestAlerts: async () => [], silences: () => [], instance: 'i', externalURL: 'http://x', now: () => clock.t });
  const at = async (ms: number) => {
    clock.t += ms;
    await d.tick();
  };
  return { d, log, clock, at };
}

const RECEIVER = `receivers:\n  - name: r\n    webhook_configs: [{url: 'http://127.0.0.1:9/x'}]\n`;

describe('alert dispatcher', () => {
  it('waits group_wait before the first notification of a group, and batches what arrives meanwhile', async () => {
    const t = setup(`route: {receiver: r, group_by: [rule], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}\n${RECEIVER}`);
    await t.d.raised([alert('A', 'high', 't1', {}, 'windowed')]);
    await t.at(10_000);
    await t.d.raised([alert('A', 'high', 't2', {}, 'windowed')]);
    await t.at(10_000);
    expect(t.log.notifications).toHaveLength(0);
    await t.at(10_000); // 30 s after the first
    expect(t.log.notifications).toHaveLength(1);
    expect(JSON.parse(t.log.notifications[0].payload).alerts).toHaveLength(2);
    // A third alert of the group waits for group_interval, not group_wait.
    await t.d.raised([alert('A', 'high', 't3', {}, 'windowed')]);
    await t.at(60_000);
    expect(t.log.notifications).toHaveLength(1);
    await t.at(4 * 60_000);
    expect(t.log.notifications).toHaveLength(2);
    expect(t.log.notifications[1].firing).toHaveLength(3);
  });

  it('an event alert resolves resolve_timeout after its last event, and a repeat event keeps it firing', async () => {
    const t = setup(`global: {resolve_timeout: 5m}\nroute: {receiver: r, group_by: [rule], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}\n${RECEIVER}`);
    const a = alert('B', 'high', 't1');
    await t.d.raised([a]);
    await t.at(0);
    await t.at(4 * 60_000);
    await t.d.raised([{ ...a, alert_id: alertId(a.fingerprint, 'again'), event_id: 'again' }]);
    await t.at(4 * 60_000); // 8 min after the first event, 4 after the second
    expect(t.log.notifications).toHaveLength(1);
    await t.at(2 * 60_000);
    expect(t.log.notifications).toHaveLength(2);
    expect(t.log.notifications[1]).toMatchObject({ status: 'resolved', resolved: [a.fingerprint] });
    // Both alert ids of the series carry its states.
    expect(new Set(t.log.states.filter((s) => s.state === 'resolved').map((s) => s.alert_id)).size).toBe(2);
  });

  it('inhibits lower-severity alerts of the same rule and tenant while a critical one fires', async () => {
    const t = setup(`route: {receiver: r, group_by: ['...'], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"low|medium"']
    equal: [rule, tenant]
${RECEIVER}`);
    await t.d.raised([alert('C', 'critical', 'acme'), alert('C', 'low', 'acme'), alert('C', 'low', 'globex')]);
    await t.at(0);
    const firing = t.log.notifications.flatMap((x) => JSON.parse(x.payload).alerts.map((a: { labels: Record<string, string> }) => `${a.labels.severity}/${a.labels.tenant}`)).sort();
    expect(firing).toEqual(['critical/acme', 'low/globex']);
    const inhibited = t.log.states.filter((s) => s.state === 'inhibited');
    expect(inhibited).toHaveLength(1);
    expect(inhibited[0]).toMatchObject({ tenant: 'acme', detail: 'inhibit rule at alerting.yaml:3' });
  });

  it('holds notifications inside a mute time interval and sends them when it ends', async () => {
    const t = setup(`route:
  receiver: r
  group_by: [rule]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - {matchers: ['tenant=~".+"'], receiver: r, mute_time_intervals: [night]}
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: '22:00', end_time: '24:00'}], location: UTC}]
${RECEIVER}`, Date.parse('2026-11-30T23:58:00Z'));
    await t.d.raised([alert('D', 'high', 't1', {}, 'windowed')]);
    await t.at(0);
    await t.at(60_000);
    expect(t.log.notifications).toHaveLength(0);
    await t.at(60_000); // 00:00 UTC
    expect(t.log.notifications).toHaveLength(1);
  });

  it('a route with continue sends to both receivers; a receiver without integrations writes nothing', async () => {
    const t = setup(`route:
  receiver: quiet
  group_by: [rule]
  group_wait: 0s
  routes:
    - {matchers: ['severity="critical"'], receiver: r, continue: true}
    - {matchers: ['tenant="acme"'], receiver: r2}
receivers:
  - name: quiet
  - name: r
    webhook_configs: [{url: 'http://127.0.0.1:9/a'}]
  - name: r2
    webhook_configs: [{url: 'http://127.0.0.1:9/b'}, {url: 'http://127.0.0.1:9/c'}]
`);
    await t.d.raised([alert('E', 'critical', 'acme'), alert('E', 'low', 'other')]);
    await t.at(0);
    expect(t.log.notifications.map((x) => `${x.receiver}/${x.integration}`).sort()).toEqual(['r/webhook_configs[0]', 'r2/webhook_configs[0]', 'r2/webhook_configs[1]']);
  });
});
