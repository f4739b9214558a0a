/**
 * The scheduler's isolation of rules: a rule whose query fails records its error (API health and
 * metrics) and the next rule still runs and raises its alert. The store is a stub here; the real
 * queries run against chDB in test/integration/rules and in the service e2e test.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { SchedulerRegistry } from '@nestjs/schedule';

import type { Alert } from '../../../src/domain/alert';
import { AlertEvents } from '../../../src/platform/alert-events';
import { Topic } from '../../../src/platform/topic';
import type { AppConfig } from '../../../src/config/app-config';
import { Metrics } from '../../../src/ops/metrics';
import { CONCEPT_IDS } from '../../../src/domain/concepts';
import { RuleHealthRegistry } from '../../../src/rules/rule-health';
import { RuleSchedulerService } from '../../../src/rules/rule-scheduler.service';
import { compileRuleSet } from '../../../src/rules/rule-set';
import { WindowedRule } from '../../../src/rules/rule-types';
import type { RuleSetService } from '../../../src/rules/rule-set.service';
import type { AlertsRepository } from '../../../src/storage/alerts.repository';

const rule = (name: string, source: string): string => `  - rule: ${name}
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    where: event.source == "${source}"
    aggregate: count()
    window: 1m
    every: 1s
    condition: value >= 1
`;

describe('rule scheduler', () => {
  it('one failing rule records its error and never stops the others', async () => {
    const set = compileRuleSet([{ file: 'r.yaml', text: `apiVersion: probewatch/v1\nengine: ">=1.1"\nrules:\n${rule('Broken', 'boom')}${rule('Fine', 'ok')}` }], { concepts: [...CONCEPT_IDS] });
    expect(set.problems).toEqual([]);
    const rules = set.rules as WindowedRule[];
    const health = new RuleHealthRegistry();
    health.sync(rules.map((r) => ({ name: r.name, kind: r.kind })));
    const ruleSet = { rules, health, changed: new Topic() } as unknown as RuleSetService;
    // The store fails the query of the rule filtering on "boom" and finds one group for the other.
    const client = {
      query: async (q: { query_params: Record<string, unknown> }) => {
        if (Object.values(q.query_params).includes('boom')) throw new Error('Code: 241. DB::Exception: memory limit exceeded');
        return { json: async () => [{ tenant: 'acme', value: 1, n: 1, samples: ['e1'] }] };
      },
    } as unknown as ClickHouseClient;
    const stored: Alert[] = [];
    const alertsRepo = { store: async (a: Alert[]) => void stored.push(...a), open: async () => [], existing: async () => new Set() } as unknown as AlertsRepository;
    const delivered: Alert[] = [];
    const alerts = new AlertEvents();
    alerts.subscribe((ev) => void delivered.push(...ev.alerts));
    const metrics = new Metrics();
    const scheduler = new RuleSchedulerService({ rulesTickMs: 1000 } as AppConfig, client, ruleSet, alertsRepo, alerts, metrics, {} as SchedulerRegistry);

    await scheduler.tick(Date.parse('2026-11-24T10:00:00.500Z'));

    expect(health.get('Broken')).toMatchObject({ evaluations: 1, errors: 1, lastError: 'Code: 241. DB::Exception: memory limit exceeded' });
    expect(health.get('Fine')).toMatchObject({ evaluations: 1, errors: 0, lastError: null });
    expect(stored.map((a) => [a.rule, a.labels.tenant, a.kind])).toEqual([['Fine', 'acme', 'windowed']]);
    expect(delivered).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('probewatch_rule_errors_total')).toMatch(/probewatch_rule_errors_total\{rule="Broken"\} 1/);

    // The same tick is not evaluated twice; the next one is.
    await scheduler.tick(Date.parse('2026-11-24T10:00:00.900Z'));
    expect(health.get('Fine')?.evaluations).toBe(1);
    await scheduler.tick(Date.parse('2026-11-24T10:00:01.100Z'));
    expect(health.get('Fine')?.evaluations).toBe(2);
  });
});
