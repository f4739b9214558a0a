/**
 * The SQL behind the Grafana dashboards (src/ops/dashboards), kept here because storage/ is the
 * only home of SQL text: these queries read the tables the migrations in ./migrations create, and
 * a schema change must be made next to them.
 *
 * The service never runs them. Grafana's ClickHouse data source does, after expanding its macros
 * ($__timeFilter, $__timeInterval, $__conditionalAll) and the dashboard's `tenant` variable; the
 * integration test test/integration/storage/dashboards.spec.ts expands them the same way and runs
 * every one on chDB against the migrated schema.
 *
 * Conventions the data source relies on:
 *  - time series queries return a column named `time`, sorted by it; string columns next to it
 *    become series labels (the plugin turns the long frame into a wide one);
 *  - the tenant filter is always `$__conditionalAll(…, $tenant)`, so "All" removes it rather than
 *    listing every tenant; the variable is multi-valued, so `${tenant}` arrives as 'a','b';
 *  - tables with several versions of a row (ReplacingMergeTree) are read with FINAL.
 */

/** Tenants for the dashboard variable: the sort key's first column, read without a time filter. */
export const TENANTS_VARIABLE_SQL = `SELECT DISTINCT tenant FROM events ORDER BY tenant`;

const TENANT = '$__conditionalAll(tenant IN (${tenant}), $tenant)';

export const DASHBOARD_SQL = {
  eventsByTenantAndSource: `SELECT $__timeInterval(ts) AS time, tenant, source, count() AS events
FROM events FINAL
WHERE $__timeFilter(ts) AND ${TENANT}
GROUP BY time, tenant, source
ORDER BY time, tenant, source`,

  flaggedRateByConcept: `SELECT $__timeInterval(ts) AS time, concept, avg(flagged) AS flagged_rate
FROM concept_scores FINAL
WHERE $__timeFilter(ts) AND ${TENANT}
GROUP BY time, concept
ORDER BY time, concept`,

  scoreQuantilesByConcept: `SELECT $__timeInterval(ts) AS time, concept,
  quantile(0.5)(score) AS p50, quantile(0.9)(score) AS p90, quantile(0.99)(score) AS p99
FROM concept_scores FINAL
WHERE $__timeFilter(ts) AND ${TENANT}
GROUP BY time, concept
ORDER BY time, concept`,

  // Aliases differ from column names: ClickHouse would resolve `flagged` inside avg() to the alias.
  flaggedByTenantAndConcept: `SELECT tenant, concept, count() AS scored, sum(flagged) AS flagged_events,
  round(avg(flagged), 4) AS flagged_rate, round(max(score), 4) AS max_score
FROM concept_scores FINAL
WHERE $__timeFilter(ts) AND ${TENANT}
GROUP BY tenant, concept
ORDER BY flagged_events DESC, tenant, concept`,

  alertsByRule: `SELECT $__timeInterval(ts) AS time, rule, severity, count() AS alerts
FROM alerts FINAL
WHERE $__timeFilter(ts) AND ${TENANT}
GROUP BY time, rule, severity
ORDER BY time, rule, severity`,

  // An alert series (fingerprint) is in the last state its history records in the range; its rule
  // comes from the alerts it raised.
  alertSeriesByRuleAndState: `SELECT a.rule AS rule, h.state AS state, count() AS series
FROM
(
  SELECT tenant, fingerprint, argMax(state, at) AS state
  FROM alert_history
  WHERE $__timeFilter(at) AND ${TENANT}
  GROUP BY tenant, fingerprint
) AS h
INNER JOIN
(
  SELECT tenant, fingerprint, any(rule) AS rule
  FROM alerts
  GROUP BY tenant, fingerprint
) AS a ON a.tenant = h.tenant AND a.fingerprint = h.fingerprint
GROUP BY rule, state
ORDER BY rule, state`,

  alertStateChanges: `SELECT $__timeInterval(at) AS time, state, count() AS changes
FROM alert_history
WHERE $__timeFilter(at) AND ${TENANT}
GROUP BY time, state
ORDER BY time, state`,

  // A notification carries the tenants of its alerts; "All" keeps every notification.
  notificationOutcomes: `SELECT $__timeInterval(created_at) AS time, outcome, count() AS notifications
FROM notifications FINAL
WHERE $__timeFilter(created_at) AND $__conditionalAll(hasAny(tenants, [\${tenant}]), $tenant)
GROUP BY time, outcome
ORDER BY time, outcome`,

  notificationsByReceiver: `SELECT receiver, integration, outcome, count() AS notifications,
  round(avg(attempts), 2) AS avg_attempts, max(updated_at) AS last_update,
  argMax(last_error, updated_at) AS last_error
FROM notifications FINAL
WHERE $__timeFilter(created_at) AND $__conditionalAll(hasAny(tenants, [\${tenant}]), $tenant)
GROUP BY receiver, integration, outcome
ORDER BY receiver, integration, outcome`,

  deadLettersByChannel: `SELECT $__timeInterval(received_at) AS time, channel, count() AS dead_letters
FROM dead_letters
WHERE $__timeFilter(received_at) AND ${TENANT}
GROUP BY time, channel
ORDER BY time, channel`,

  deadLetterReasons: `SELECT channel, reason, count() AS items, max(received_at) AS last_seen
FROM dead_letters
WHERE $__timeFilter(received_at) AND ${TENANT}
GROUP BY channel, reason
ORDER BY items DESC, channel, reason
LIMIT 50`,
} as const;

export type DashboardQuery = keyof typeof DASHBOARD_SQL;
