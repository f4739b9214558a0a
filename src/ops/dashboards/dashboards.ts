/**
 * The Grafana dashboards, as data: which panels, in which rows, on which data source, with which
 * query. generate.ts turns them into dashboard JSON (grafana-dash-gen) under dashboards/, and
 * docker/grafana/provisioning/ points Grafana at that directory.
 *
 * Two data sources, with the uids the provisioning file gives them:
 *  - ClickHouse (grafana-clickhouse-datasource): what was detected, alerted and notified, per
 *    tenant; the SQL lives in storage/dashboard-queries.ts and runs on chDB in a test;
 *  - Prometheus: how the service runs (latency, throughput, dead letters, lag), from /metrics;
 *    a test checks that every metric named here exists in ops/metrics.ts.
 */
import { DASHBOARD_SQL, DashboardQuery, TENANTS_VARIABLE_SQL } from '../../storage/dashboard-queries';

export const CLICKHOUSE = { type: 'grafana-clickhouse-datasource', uid: 'probewatch-clickhouse' } as const;
export const PROMETHEUS = { type: 'prometheus', uid: 'probewatch-prometheus' } as const;

/** A raw-SQL query of the ClickHouse plugin; `format` is the SDK's FormatQueryOption (0 time series, 1 table). */
export interface ClickHouseTarget {
  datasource: typeof CLICKHOUSE;
  editorType: 'sql';
  format: 0 | 1;
  queryType: 'timeseries' | 'table';
  rawSql: string;
}

export interface PrometheusTarget {
  datasource: typeof PROMETHEUS;
  expr: string;
  legendFormat: string;
  range: true;
}

export type Target = ClickHouseTarget | PrometheusTarget;

export interface PanelSpec {
  title: string;
  description: string;
  kind: 'graph' | 'table';
  /** of the 12 columns of a row */
  span: number;
  /** Grafana unit of the left axis (graphs) */
  unit?: string;
  stack?: boolean;
  targets: Target[];
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface DashboardSpec {
  /** file name under dashboards/ */
  file: string;
  uid: string;
  title: string;
  description: string;
  tags: string[];
  /** the ClickHouse query variable `tenant` (multi-value, with All) */
  tenantVariable: boolean;
  rows: RowSpec[];
}

export const TENANT_VARIABLE = { name: 'tenant', label: 'Tenant', query: TENANTS_VARIABLE_SQL } as const;

function series(query: DashboardQuery): ClickHouseTarget {
  return { datasource: CLICKHOUSE, editorType: 'sql', format: 0, queryType: 'timeseries', rawSql: DASHBOARD_SQL[query] };
}

function table(query: DashboardQuery): ClickHouseTarget {
  return { datasource: CLICKHOUSE, editorType: 'sql', format: 1, queryType: 'table', rawSql: DASHBOARD_SQL[query] };
}

function promql(expr: string, legendFormat: string): PrometheusTarget {
  return { datasource: PROMETHEUS, expr, legendFormat, range: true };
}

/** p50, p90 and p99 of a prom-client histogram, over every instance. */
function quantiles(histogram: string, by: string[] = []): PrometheusTarget[] {
  const labels = ['le', ...by].join(', ');
  const suffix = by.map((l) => ` {{${l}}}`).join('');
  return [0.5, 0.9, 0.99].map((q) =>
    promql(`histogram_quantile(${q}, sum by (${labels}) (rate(${histogram}_bucket[$__rate_interval])))`, `p${Math.round(q * 100)}${suffix}`));
}

const OVERVIEW: DashboardSpec = {
  file: 'probewatch-overview.json',
  uid: 'probewatch-overview',
  title: 'probewatch: detections, alerts, notifications',
  description: 'What the probes detected, which alerts it raised and how their notifications went, per tenant (ClickHouse).',
  tags: ['probewatch'],
  tenantVariable: true,
  rows: [
    {
      title: 'Detections',
      panels: [
        { title: 'Events by tenant and source', description: 'Events stored per interval, by tenant and source.', kind: 'graph', span: 6, unit: 'short', stack: true, targets: [series('eventsByTenantAndSource')] },
        { title: 'Flagged rate per concept', description: 'Share of scored events flagged (score at or above the concept threshold).', kind: 'graph', span: 6, unit: 'percentunit', targets: [series('flaggedRateByConcept')] },
        { title: 'Score quantiles per concept', description: 'p50, p90 and p99 of the concept score per interval.', kind: 'graph', span: 6, unit: 'short', targets: [series('scoreQuantilesByConcept')] },
        { title: 'Flagged events by tenant and concept', description: 'Scored and flagged events in the time range.', kind: 'table', span: 6, targets: [table('flaggedByTenantAndConcept')] },
      ],
    },
    {
      title: 'Alerts',
      panels: [
        { title: 'Alerts raised by rule', description: 'Alerts stored per interval, by rule and severity.', kind: 'graph', span: 6, unit: 'short', stack: true, targets: [series('alertsByRule')] },
        { title: 'Alert state changes', description: 'Transitions recorded in the alert history (firing, acknowledged, silenced, inhibited, resolved).', kind: 'graph', span: 6, unit: 'short', stack: true, targets: [series('alertStateChanges')] },
        { title: 'Alert series by rule and state', description: 'Each alert series (fingerprint) counted in the last state its history records in the range.', kind: 'table', span: 12, targets: [table('alertSeriesByRuleAndState')] },
      ],
    },
    {
      title: 'Notifications',
      panels: [
        { title: 'Notification outcomes', description: 'Notifications created per interval, by their latest outcome (pending, retrying, sent, dead).', kind: 'graph', span: 6, unit: 'short', stack: true, targets: [series('notificationOutcomes')] },
        { title: 'Notifications by receiver', description: 'Outcome, attempts and last error per receiver and integration.', kind: 'table', span: 6, targets: [table('notificationsByReceiver')] },
      ],
    },
  ],
};

const OPERATIONS: DashboardSpec = {
  file: 'probewatch-operations.json',
  uid: 'probewatch-operations',
  title: 'probewatch: operations',
  description: 'How the service runs: throughput, probe latency, dead letters, Kafka lag and delivery (Prometheus, and dead letters from ClickHouse).',
  tags: ['probewatch'],
  tenantVariable: true,
  rows: [
    {
      title: 'Throughput',
      panels: [
        {
          title: 'Events per second', description: 'Received (by channel), scored and failed events, over every instance.', kind: 'graph', span: 6, unit: 'ops',
          targets: [
            promql('sum by (channel) (rate(probewatch_events_received_total[$__rate_interval]))', 'received {{channel}}'),
            promql('sum(rate(probewatch_events_scored_total[$__rate_interval]))', 'scored'),
            promql('sum(rate(probewatch_events_failed_total[$__rate_interval]))', 'failed'),
          ],
        },
        {
          title: 'Backlog', description: 'Events waiting for the probe, in flight, and rows buffered for ClickHouse.', kind: 'graph', span: 6, unit: 'short',
          targets: [
            promql('sum(probewatch_queue_depth)', 'probe queue'),
            promql('sum(probewatch_events_in_flight)', 'in flight'),
            promql('sum(probewatch_writer_pending_rows)', 'writer pending rows'),
          ],
        },
      ],
    },
    {
      title: 'Latency',
      panels: [
        { title: 'Probe latency per event', description: 'Tokenize, infer and score one event (probewatch_probe_seconds).', kind: 'graph', span: 6, unit: 's', targets: quantiles('probewatch_probe_seconds') },
        { title: 'Ingest to stored', description: 'From ingest to durably stored (probewatch_ingest_to_stored_seconds).', kind: 'graph', span: 6, unit: 's', targets: quantiles('probewatch_ingest_to_stored_seconds') },
      ],
    },
    {
      title: 'Inline guard and prefix cache',
      panels: [
        {
          title: 'Guard verdicts', description: 'POST /v1/guard answers per second, by verdict (allow, flag, block; invalid and busy refusals).', kind: 'graph', span: 4, unit: 'ops', stack: true,
          targets: [promql('sum by (verdict) (rate(probewatch_guard_requests_total[$__rate_interval]))', '{{verdict}}')],
        },
        { title: 'Guard latency', description: 'From request to verdict, the event durable (probewatch_guard_seconds).', kind: 'graph', span: 4, unit: 's', targets: quantiles('probewatch_guard_seconds') },
        {
          title: 'Prefix cache: share of tokens reused', description: 'Tokens whose key/value state and residuals came from the prefix cache, over all tokens of runs that read it.', kind: 'graph', span: 4, unit: 'percentunit',
          targets: [promql('sum(rate(probewatch_prefix_cache_hit_tokens_total[$__rate_interval])) / (sum(rate(probewatch_prefix_cache_hit_tokens_total[$__rate_interval])) + sum(rate(probewatch_prefix_cache_miss_tokens_total[$__rate_interval])))', 'reused')],
        },
      ],
    },
    {
      title: 'Dead letters and Kafka',
      panels: [
        {
          title: 'Dead-letter rate', description: 'Items recorded in dead_letters by channel, and messages sent to the Kafka dead-letter topic by error.', kind: 'graph', span: 6, unit: 'ops',
          targets: [
            promql('sum by (channel) (rate(probewatch_dead_letters_total[$__rate_interval]))', 'dead_letters {{channel}}'),
            promql('sum by (error) (rate(probewatch_kafka_dead_letters_total[$__rate_interval]))', 'Kafka DLQ {{error}}'),
          ],
        },
        {
          title: 'Kafka consumer lag', description: 'Messages behind the partition end after the last committed chunk.', kind: 'graph', span: 6, unit: 'short',
          targets: [promql('sum by (topic, partition) (probewatch_kafka_consumer_lag)', '{{topic}}/{{partition}}')],
        },
        { title: 'Dead letters stored, by channel', description: 'Rows in the dead_letters table per interval (ClickHouse; follows the tenant variable).', kind: 'graph', span: 6, unit: 'short', stack: true, targets: [series('deadLettersByChannel')] },
        { title: 'Dead-letter reasons', description: 'The most frequent reasons in the time range.', kind: 'table', span: 6, targets: [table('deadLetterReasons')] },
      ],
    },
    {
      title: 'Delivery',
      panels: [
        {
          title: 'Notification attempts by outcome', description: 'Delivery attempts per second, by receiver and outcome.', kind: 'graph', span: 6, unit: 'ops',
          targets: [promql('sum by (receiver, outcome) (rate(probewatch_notifications_total[$__rate_interval]))', '{{receiver}} {{outcome}}')],
        },
        { title: 'Notification attempt latency', description: 'Duration of one delivery attempt (probewatch_notification_seconds).', kind: 'graph', span: 6, unit: 's', targets: quantiles('probewatch_notification_seconds', ['outcome']) },
      ],
    },
  ],
};

export const DASHBOARDS: readonly DashboardSpec[] = [OVERVIEW, OPERATIONS];
