/**
 * The Grafana dashboards generated from src/ops/dashboards: the committed files are current, the
 * check catches stale ones, the output is deterministic, and every Prometheus expression names only
 * metrics the service exports. (Their SQL runs on chDB in test/integration/storage/dashboards.spec.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Histogram, Summary } from 'prom-client';

import { runDashboards } from '../../../src/cli/dashboards.command';
import { UsageError } from '../../../src/cli/usage-error';
import { CLICKHOUSE, DASHBOARDS, PROMETHEUS, PrometheusTarget } from '../../../src/ops/dashboards/dashboards';
import { checkDashboards, renderDashboards, writeDashboards } from '../../../src/ops/dashboards/generate';
import { Metrics } from '../../../src/ops/metrics';

interface PanelJson { id: number; title: string; type: string; datasource: { type: string; uid: string }; targets: Array<Record<string, unknown>> }
interface DashboardJson { uid: string; rows: Array<{ panels: PanelJson[] }>; templating: { list: Array<Record<string, unknown>> } }

const ROOT = path.resolve(__dirname, '..', '..', '..');
const dashboards = (): DashboardJson[] => renderDashboards().map((f) => JSON.parse(f.content) as DashboardJson);
const panels = (d: DashboardJson): PanelJson[] => d.rows.flatMap((r) => r.panels);

function run(args: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runDashboards(args, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice((m.index ?? 0) + m[0].length)))
    .map((m) => m[0]);
  return names.filter((n) => !PROMQL_WORDS.has(n) && !/^(Inf|NaN)$/i.test(n));
}

/** The series names /metrics exposes: histograms as _bucket/_sum/_count, summaries with _sum/_count. */
function exportedSeries(): Set<string> {
  const names = new Set<string>();
  for (const m of new Metrics().registry.getMetricsAsArray()) {
    names.add(m.name);
    if (m instanceof Histogram) for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    if (m instanceof Summary) for (const s of ['_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe('Grafana dashboards', () => {
  it('the committed dashboards/ are what the code generates (probewatch dashboards --check exits 0)', () => {
    const r = run(['--check']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/up to date/);
    expect(checkDashboards(path.join(ROOT, 'dashboards'))).toEqual({ missing: [], differ: [], extra: [] });
  });

  it('--check exits 1 and names each stale, missing and extra file; writing makes it pass again', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-dashboards-'));
    try {
      expect(run(['--out', dir]).code).toBe(0);
      expect(run(['--check', '--out', dir]).code).toBe(0);

      const [first, second] = DASHBOARDS.map((d) => path.join(dir, d.file));
      writeFileSync(first, readFileSync(first, 'utf8').replace('"refresh": "1m"', '"refresh": "5m"'));
      rmSync(second);
      writeFileSync(path.join(dir, 'hand-made.json'), '{}\n');
      const r = run(['--check', '--out', dir]);
      expect(r.code).toBe(1);
      expect(r.err).toEqual(expect.arrayContaining([
        expect.stringMatching(new RegExp(`${DASHBOARDS[0].file}: differs`)),
        expect.stringMatching(new RegExp(`${DASHBOARDS[1].file}: missing`)),
        expect.stringMatching(/hand-made\.json: not generated/),
        expect.stringMatching(/out of date: run `npx probewatch dashboards --out /),
      ]));

      rmSync(path.join(dir, 'hand-made.json'));
      writeDashboards(dir);
      expect(run(['--check', '--out', dir]).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unknown options as a usage error', () => {
    expect(() => run(['--chek'])).toThrow(UsageError);
    expect(() => run(['extra'])).toThrow(UsageError);
  });

  it('is deterministic: sorted keys, fixed uids, panel ids per dashboard, trailing newline', () => {
    const a = renderDashboards();
    expect(renderDashboards()).toEqual(a);
    expect(a.map((f) => f.file)).toEqual(['probewatch-overview.json', 'probewatch-operations.json']);
    for (const f of a) {
      expect(f.content.endsWith('}\n')).toBe(true);
      const keys = Object.keys(JSON.parse(f.content) as object);
      expect(keys).toEqual([...keys].sort());
    }
    const ds = dashboards();
    expect(ds.map((d) => d.uid)).toEqual(['probewatch-overview', 'probewatch-operations']);
    for (const d of ds) expect(panels(d).map((p) => p.id)).toEqual(panels(d).map((_p, i) => i + 1));
  });

  it('has the panels asked for, each target complete for its data source', () => {
    const titles = dashboards().flatMap((d) => panels(d).map((p) => p.title));
    expect(titles).toEqual(expect.arrayContaining([
      'Events by tenant and source', 'Flagged rate per concept', 'Score quantiles per concept', 'Alert series by rule and state',
      'Notification outcomes', 'Probe latency per event', 'Dead-letter rate', 'Kafka consumer lag',
    ]));
    for (const d of dashboards()) {
      expect(d.templating.list).toEqual([expect.objectContaining({ name: 'tenant', type: 'query', datasource: CLICKHOUSE, multi: true, includeAll: true, refresh: 1 })]);
      for (const p of panels(d)) {
        expect(p.targets.length).toBeGreaterThan(0);
        for (const t of p.targets) {
          expect(t.datasource).toEqual(p.datasource);
          if (p.datasource.type === CLICKHOUSE.type) {
            expect(t).toEqual({
              datasource: CLICKHOUSE, editorType: 'sql', rawSql: expect.any(String), refId: expect.stringMatching(/^[A-Z]$/),
              ...(p.type === 'table' ? { format: 1, queryType: 'table' } : { format: 0, queryType: 'timeseries' }),
            });
            // the tenant filter goes through $__conditionalAll, so All means no filter
            expect(t.rawSql).toMatch(/\$__conditionalAll\([^]*\$tenant\)/);
            if (p.type !== 'table') expect(t.rawSql).toMatch(/ AS time\b/);
          } else {
            expect(t).toEqual({ datasource: PROMETHEUS, expr: expect.any(String), legendFormat: expect.any(String), range: true, refId: expect.stringMatching(/^[A-Z]$/) });
          }
        }
      }
    }
  });

  it('every metric a Prometheus panel queries exists in the service registry (ops/metrics.ts)', () => {
    const exported = exportedSeries();
    expect(exported.has('probewatch_probe_seconds_bucket')).toBe(true);
    const exprs = dashboards().flatMap((d) => panels(d).flatMap((p) => p.targets)).filter((t) => (t.datasource as PrometheusTarget['datasource']).type === 'prometheus').map((t) => String(t.expr));
    expect(exprs.length).toBeGreaterThan(8);
    for (const e of exprs) {
      const names = metricNames(e);
      expect({ e, names: names.length > 0 }).toEqual({ e, names: true });
      expect({ e, unknown: names.filter((n) => !exported.has(n)) }).toEqual({ e, unknown: [] });
    }
  });

  it('the metric-name extraction sees through functions, aggregations, label matchers and ranges', () => {
    expect(metricNames('histogram_quantile(0.9, sum by (le, outcome) (rate(probewatch_notification_seconds_bucket{job="pw"}[$__rate_interval])))'))
      .toEqual(['probewatch_notification_seconds_bucket']);
    expect(metricNames('sum(probewatch_queue_depth) / on (instance) group_left sum(no_such_metric)')).toEqual(['probewatch_queue_depth', 'no_such_metric']);
  });
});
