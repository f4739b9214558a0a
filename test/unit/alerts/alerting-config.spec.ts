/** alerting.yaml: Alertmanager's configuration shape, read totally, routed as Alertmanager routes. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { formatAlertingProblem, parsePromDuration, readAlertingConfig } from '../../../src/alerts/alerting/alerting-config';
import { matches, parseMatcher } from '../../../src/alerts/alerting/matchers';
import { inhibitedBy, mutedByTime, routeAlert } from '../../../src/alerts/alerting/routing';
import { intervalContains, parseRange } from '../../../src/alerts/alerting/time-intervals';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('matchers (Alertmanager syntax)', () => {
  it('parses the four operators, quoted and unquoted, and anchors regular expressions', () => {
    expect(parseMatcher('severity="critical"')).toMatchObject({ name: 'severity', op: '=', value: 'critical' });
    expect(parseMatcher('tenant != acme')).toMatchObject({ name: 'tenant', op: '!=', value: 'acme' });
    const re = parseMatcher('rule=~"Harmful.*"');
    expect(matches(re, { rule: 'Harmful intent' })).toBe(true);
    expect(matches(re, { rule: 'Not Harmful' })).toBe(false); // anchored at the start
    expect(matches(parseMatcher('rule!~"Harm"'), { rule: 'Harmful' })).toBe(true); // anchored at the end
    expect(matches(parseMatcher('team=""'), {})).toBe(true); // a missing label is the empty string
    expect(parseMatcher('a="say \\"hi\\""').value).toBe('say "hi"');
  });

  it.each([
    ['=critical', /expected a label name/, 0],
    ['severity critical', /expected one of =, !=, =~, !~/, 9],
    ['severity="critical', /unterminated quoted value/, 9],
    ['rule=~"(unclosed"', /invalid regular expression/, 6],
    ['a="x" b', /unexpected 'b'/, 6],
  ])('reports %s with its position', (text, msg, offset) => {
    expect(() => parseMatcher(text)).toThrow(msg);
    try {
      parseMatcher(text);
    } catch (e) {
      expect((e as { offset: number }).offset).toBe(offset);
    }
  });
});

describe('durations and time intervals', () => {
  it('reads Prometheus durations', () => {
    expect(parsePromDuration('30s')).toBe(30_000);
    expect(parsePromDuration('1h30m')).toBe(5_400_000);
    expect(parsePromDuration('1w')).toBe(7 * 86_400_000);
    expect(parsePromDuration('0')).toBe(0);
    expect(parsePromDuration('30m1h')).toBeNull(); // units in order
    expect(parsePromDuration('1.5h')).toBeNull();
  });

  it('evaluates weekdays, times and days of the month in the interval\'s time zone', () => {
    const businessHoursLondon = [{ weekdays: [parseRange('monday:friday', 'weekdays')], times: [{ startMinute: 9 * 60, endMinute: 17 * 60 }], location: 'Europe/London' }];
    expect(intervalContains(businessHoursLondon, new Date('2026-11-30T09:30:00Z'))).toBe(true); // Monday 09:30 GMT
    expect(intervalContains(businessHoursLondon, new Date('2026-11-30T17:00:00Z'))).toBe(false); // end is exclusive
    expect(intervalContains(businessHoursLondon, new Date('2026-11-29T10:00:00Z'))).toBe(false); // Sunday
    // 08:30 UTC on 1 July is 09:30 in London (BST): inside, though 08:30 in UTC is not.
    expect(intervalContains(businessHoursLondon, new Date('2026-07-01T08:30:00Z'))).toBe(true);
    const lastDay = [{ daysOfMonth: [parseRange('-1', 'days_of_month')], location: 'UTC' }];
    expect(intervalContains(lastDay, new Date('2026-02-28T12:00:00Z'))).toBe(true);
    expect(intervalContains(lastDay, new Date('2026-03-28T12:00:00Z'))).toBe(false);
  });
});

const GOOD = `
global:
  resolve_timeout: 10m
route:
  receiver: default
  group_by: [rule, tenant]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      routes:
        - matchers: ['tenant="acme"']
          receiver: acme-oncall
          group_by: ['...']
    - matchers: ['rule=~"Harmful.*"']
      receiver: safety
      group_wait: 10s
      mute_time_intervals: [weekends]
    - matchers: ['severity="critical"']
      receiver: safety
      active_time_intervals: [office]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="low"']
    equal: [tenant]
time_intervals:
  - name: weekends
    time_intervals:
      - weekdays: ['saturday', 'sunday']
  - name: office
    time_intervals:
      - times: [{start_time: '09:00', end_time: '17:00'}]
        weekdays: ['monday:friday']
        location: Europe/Berlin
receivers:
  - name: default
  - name: pager
    pagerduty_configs:
      - routing_key: \${PD_KEY}
  - name: acme-oncall
    webhook_configs:
      - url: https://hooks.example.com/acme
        hmac_secret_file: /run/secrets/acme
  - name: safety
    slack_configs:
      - api_url_file: /run/secrets/slack
        channel: '#safety'
    email_configs:
      - to: safety@example.com
        from: probewatch@example.com
        smarthost: smtp.example.com:587
`;

describe('reading alerting.yaml', () => {
  const env = { PD_KEY: 'pd-routing-key-123' };

  it('reads routes, inheritance, inhibit rules, time intervals and receivers', () => {
    const { config, problems } = readAlertingConfig('alerting.yaml', GOOD, env);
    expect(problems).toEqual([]);
    const c = config!;
    expect(c.resolveTimeoutMs).toBe(600_000);
    expect(c.route.routes[1]).toMatchObject({ receiver: 'safety', groupBy: ['rule', 'tenant'], groupWaitMs: 10_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3_600_000 });
    expect(c.route.routes[0].routes[0].groupBy).toBe('...');
    expect(c.receivers.get('pager')?.pagerduty[0].routingKey).toEqual({ kind: 'env', name: 'PD_KEY', value: 'pd-routing-key-123' });
    expect(c.receivers.get('acme-oncall')?.webhook[0]).toMatchObject({ sendResolved: true, hmacSecret: { kind: 'file', path: '/run/secrets/acme' } });
    expect(c.receivers.get('safety')?.email[0]).toMatchObject({ to: 'safety@example.com', smarthost: 'smtp.example.com:587', requireTls: true, sendResolved: false });
    expect(c.inhibitRules[0].equal).toEqual(['tenant']);
    expect(c.timeIntervals.get('office')?.[0].location).toBe('Europe/Berlin');
  });

  it('routes as Alertmanager does: first match, continue, fallback to the parent, group keys', () => {
    const c = readAlertingConfig('alerting.yaml', GOOD, env).config!;
    const to = (labels: Record<string, string>): string[] => routeAlert(c.route, labels).map((m) => m.receiver);
    // critical + acme: the pager route continues; its acme child handles it; then the third route matches too
    expect(to({ rule: 'Leak', severity: 'critical', tenant: 'acme' })).toEqual(['acme-oncall', 'safety']);
    // critical elsewhere: the pager route (no child matched) and then the later critical route
    expect(to({ rule: 'Leak', severity: 'critical', tenant: 'globex' })).toEqual(['pager', 'safety']);
    // Harmful rule, not critical: stops at the first match without continue
    expect(to({ rule: 'Harmful intent', severity: 'high', tenant: 'acme' })).toEqual(['safety']);
    // nothing matches: the root
    const root = routeAlert(c.route, { rule: 'Other', severity: 'low', tenant: 't9', user: 'u1' });
    expect(root.map((m) => m.receiver)).toEqual(['default']);
    expect(root[0].groupLabels).toEqual({ rule: 'Other', tenant: 't9' });
    expect(routeAlert(c.route, { rule: 'Leak', severity: 'critical', tenant: 'acme' })[0].groupLabels).toEqual({ rule: 'Leak', severity: 'critical', tenant: 'acme' });
  });

  it('applies mute and active intervals at a given time', () => {
    const c = readAlertingConfig('alerting.yaml', GOOD, env).config!;
    const harmful = c.route.routes[1];
    expect(mutedByTime(c, harmful, new Date('2026-11-29T12:00:00Z'))).toBe("mute interval 'weekends'"); // Sunday
    expect(mutedByTime(c, harmful, new Date('2026-11-30T12:00:00Z'))).toBeNull();
    const office = c.route.routes[2];
    expect(mutedByTime(c, office, new Date('2026-11-30T08:30:00Z'))).toBeNull(); // 09:30 in Berlin
    expect(mutedByTime(c, office, new Date('2026-11-30T16:30:00Z'))).toMatch(/outside active intervals 'office'/); // 17:30 in Berlin
  });

  it('inhibits a target while a matching source fires with equal labels, never by itself', () => {
    const c = readAlertingConfig('alerting.yaml', GOOD, env).config!;
    const low = { rule: 'X', severity: 'low', tenant: 'acme' };
    expect(inhibitedBy(c.inhibitRules, low, [{ rule: 'Y', severity: 'critical', tenant: 'acme' }])).not.toBeNull();
    expect(inhibitedBy(c.inhibitRules, low, [{ rule: 'Y', severity: 'critical', tenant: 'globex' }])).toBeNull();
    expect(inhibitedBy(c.inhibitRules, low, [low])).toBeNull();
  });

  it('reports every problem at file:line:col and keeps no configuration', () => {
    const bad = [
      'route:',                                     // 1
      '  receiver: nobody',                         // 2
      '  group_wait: soon',                         // 3
      '  routes:',                                  // 4
      "    - matchers: ['severity=~\"(crit\"']",    // 5
      '      mute_time_intervals: [nights]',        // 6
      '      recevier: typo',                       // 7
      'receivers:',                                 // 8
      '  - name: pd',                               // 9
      '    pagerduty_configs:',                     // 10
      '      - routing_key: ${MISSING_KEY}',        // 11
      '  - name: chat',                             // 12
      '    opsgenie_configs: []',                   // 13
    ].join('\n');
    const { config, problems } = readAlertingConfig('alerting.yaml', bad, {});
    expect(config).toBeNull();
    const lines = problems.map(formatAlertingProblem);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^alerting\.yaml:3:15: route\.group_wait must be a duration/),
      expect.stringMatching(/^alerting\.yaml:5:\d+: matchers: invalid regular expression/),
      expect.stringMatching(/^alerting\.yaml:7:7: unknown key 'recevier'/),
      expect.stringMatching(/^alerting\.yaml:11:22: 'routing_key' refers to the environment variable MISSING_KEY, which is not set/),
      expect.stringMatching(/^alerting\.yaml:13:5: unknown key 'opsgenie_configs' in a receiver \(probewatch does not send to opsgenie/),
      expect.stringMatching(/^alerting\.yaml:2:13: receiver 'nobody' is not defined/),
      expect.stringMatching(/^alerting\.yaml:6:\d+: time interval 'nights' is not defined/),
    ]));
    expect(lines.join('\n')).not.toMatch(/MISSING_KEY.*=/);
  });

  it('warns about an inline secret without printing it', () => {
    const text = 'route: {receiver: w}\nreceivers:\n  - name: w\n    webhook_configs:\n      - url: https://h.example.com/x\n        hmac_secret: s3cr3t-value\n';
    const { config, problems } = readAlertingConfig('a.yaml', text, {});
    expect(config).not.toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'warning', line: 6 });
    expect(formatAlertingProblem(problems[0])).not.toContain('s3cr3t-value');
  });

  it('reports a YAML syntax error at its place', () => {
    const { config, problems } = readAlertingConfig('a.yaml', 'route:\n  receiver: [x\n', {});
    expect(config).toBeNull();
    expect(problems[0]).toMatchObject({ line: expect.any(Number), message: expect.stringMatching(/^YAML: /) });
  });

  it('the shipped alerting.yaml is valid', () => {
    const file = path.join(ROOT, 'alerting.yaml');
    const { config, problems } = readAlertingConfig(file, readFileSync(file, 'utf8'), {});
    expect(problems.map(formatAlertingProblem)).toEqual([]);
    expect(routeAlert(config!.route, { rule: 'r', severity: 'critical', tenant: 't' }).map((m) => m.receiver)).toEqual(['safety-team']);
  });
});
