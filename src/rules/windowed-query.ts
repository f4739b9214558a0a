/**
 * Windowed and sequence rules as parameterised ClickHouse queries over `concept_scores`.
 *
 * Both read a per-event view of the window: one row per (tenant, event_id) with the event's
 * fields and, for each concept the rule uses, its score, flag and threshold. Grouping by event id
 * also makes the queries immune to rows the ReplacingMergeTree has not merged yet. The window
 * bounds are the parameters `from` and `to` (exclusive, inclusive), filled at each evaluation.
 */
import { Node, pathsOf } from './condition';
import { aggregateSql, conceptColumn, conditionSql, SqlParams } from './condition-sql';
import type { CompiledQuery, GroupField, SequenceRule, WindowedRule } from './rule-types';

const GROUP_COLUMN: Record<GroupField, string> = { tenant: 'tenant', source: 'source', model: 'model', user: 'user_id' };

/** The view's columns for a rule's group fields, and the same as a SQL key list. */
function groupingOf(fields: GroupField[]): { groupColumns: CompiledQuery['groupColumns']; keys: string } {
  const groupColumns = fields.map((g) => ({ label: g, column: GROUP_COLUMN[g] }));
  return { groupColumns, keys: groupColumns.map((g) => g.column).join(', ') };
}

/** Concepts a set of nodes reads (their view columns are the only ones built). */
function conceptsUsed(nodes: Array<Node | null | undefined>): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) if (n) for (const p of pathsOf(n)) if (p.path[0] === 'concept') out.add(p.path[1]);
  return out;
}

function eventView(used: Set<string>, concepts: readonly string[], params: SqlParams): string {
  // Every event has one row per concept; with no concept in the rule, one concept's rows stand for the events.
  const names = used.size ? [...used] : [concepts[0]];
  const cols: string[] = [];
  for (const c of used) {
    const i = concepts.indexOf(c);
    const p = params.add(c, 'String');
    cols.push(`maxIf(score, concept = ${p}) AS ${conceptColumn(i, 'score')}`);
    cols.push(`maxIf(flagged, concept = ${p}) AS ${conceptColumn(i, 'flagged')}`);
    cols.push(`maxIf(threshold, concept = ${p}) AS ${conceptColumn(i, 'threshold')}`);
  }
  return `SELECT tenant, event_id, any(source) AS source, any(model) AS model, any(user_id) AS user_id, max(ts) AS event_ts${cols.length ? `, ${cols.join(', ')}` : ''}
      FROM concept_scores
      WHERE ts > toDateTime64({from:String}, 3, 'UTC') AND ts <= toDateTime64({to:String}, 3, 'UTC')
        AND has(${params.add(names, 'Array(String)')}, concept)
      GROUP BY tenant, event_id`;
}

/** The pieces both windowed queries share, compiled in one parameter space. */
function windowedParts(rule: Omit<WindowedRule, 'query'>, concepts: readonly string[]) {
  const params = new SqlParams();
  const view = eventView(conceptsUsed([rule.where, rule.aggregate.arg]), concepts, params);
  const { groupColumns, keys } = groupingOf(rule.groupBy);
  const value = aggregateSql(rule.aggregate, concepts, params, rule.windowMs / 1000);
  const where = rule.where ? conditionSql(rule.where, concepts, params) : null;
  const having = conditionSql(rule.condition, concepts, params);
  return { params, view, groupColumns, keys, value, where, having };
}

export function buildWindowedQuery(rule: Omit<WindowedRule, 'query'>, concepts: readonly string[]): CompiledQuery {
  const { params, view, groupColumns, keys, value, where, having } = windowedParts(rule, concepts);
  const filter = where ? `WHERE ${where}` : '';
  const sql = `SELECT ${keys}, ${value} AS value, count() AS n, groupArray(3)(event_id) AS samples
    FROM (${view})
    ${filter}
    GROUP BY ${keys}
    HAVING ${having}
    ORDER BY ${keys}`;
  return { sql, params: params.values, groupColumns };
}

/**
 * The same rule at every tick of a range in one query (backtests): each event joins the ticks
 * whose window (t - window, t] holds it, then groups are formed per tick. Ticks are multiples of
 * `every` in ms since the epoch, as in the live scheduler.
 */
export function buildWindowedRangeQuery(rule: Omit<WindowedRule, 'query'>, concepts: readonly string[]): CompiledQuery {
  const { params, view, groupColumns, keys, value, where, having } = windowedParts(rule, concepts);
  const filter = where ? `AND ${where}` : '';
  const w = params.add(rule.windowMs, 'Int64');
  const e = params.add(rule.everyMs, 'Int64');
  const sql = `SELECT tick, ${keys}, ${value} AS value, count() AS n, groupArray(3)(event_id) AS samples
    FROM (${view})
    ARRAY JOIN arrayFilter(t -> t < toUnixTimestamp64Milli(event_ts) + ${w},
      arrayMap(k -> (intDiv(toUnixTimestamp64Milli(event_ts) + ${e} - 1, ${e}) + k) * ${e}, range(toUInt64(intDiv(${w}, ${e}) + 1)))) AS tick
    WHERE tick >= {firstTick:Int64} AND tick <= {lastTick:Int64} ${filter}
    GROUP BY tick, ${keys}
    HAVING ${having}
    ORDER BY tick, ${keys}`;
  return { sql, params: params.values, groupColumns };
}

export function buildSequenceQuery(rule: Omit<SequenceRule, 'query'>, concepts: readonly string[]): CompiledQuery {
  const params = new SqlParams();
  const view = eventView(conceptsUsed(rule.steps), concepts, params);
  const { groupColumns, keys } = groupingOf(rule.by);
  const steps = rule.steps.map((s, i) => `(${conditionSql(s, concepts, params)}) AS s${i}`);
  const sql = `SELECT ${keys}, event_id, toUnixTimestamp64Milli(event_ts) AS ts_ms, ${steps.join(', ')}
    FROM (${view})
    WHERE ${rule.steps.map((_s, i) => `s${i}`).join(' OR ')}
    ORDER BY ${keys}, ts_ms, event_id`;
  return { sql, params: params.values, groupColumns };
}
