/**
 * Grafana's ClickHouse data source (grafana-clickhouse-datasource v4) expands a panel's raw SQL in
 * two places; this module does the same, so the dashboards' queries can be run on chDB in tests.
 *
 *  1. In the browser (src/data/CHDatasource.ts, applyTemplateVariables): `$__conditionalAll(cond,
 *     $var)` becomes `1=1` when the variable is All ('$__all') or empty, else `cond`; then template
 *     variables are replaced, a multi-value selection as 'a','b' and a single value as it is.
 *  2. In the backend (pkg/macros/macros.go), the time macros, from the query's time range and
 *     interval (below, `from`/`to` in Unix seconds unless noted):
 *       $__fromTime, $__toTime             toDateTime(from), toDateTime(to)
 *       $__fromTime_ms, $__toTime_ms       fromUnixTimestamp64Milli(from ms), … (to ms)
 *       $__timeFilter(c)                   c >= toDateTime(from) AND c <= toDateTime(to)
 *       $__timeFilter_ms(c)                c >= fromUnixTimestamp64Milli(…) AND c <= …
 *       $__dateFilter(c)                   c >= toDate('YYYY-MM-DD') AND c <= toDate(…)
 *       $__dateTimeFilter(d, t), $__dt     (date filter on d) AND (time filter on t)
 *       $__timeInterval(c)                 toStartOfInterval(toDateTime(c), INTERVAL <s> second)
 *       $__timeInterval_ms(c)              toStartOfInterval(toDateTime64(c, 3), INTERVAL <ms> millisecond)
 *       $__interval_s                      the interval in seconds (at least 1)
 *
 * Sources: https://grafana.com/grafana/plugins/grafana-clickhouse-datasource/ ("Macros"),
 * https://github.com/grafana/clickhouse-datasource/blob/main/pkg/macros/macros.go and
 * https://github.com/grafana/clickhouse-datasource/blob/main/src/data/CHDatasource.ts.
 *
 * One difference, on purpose: a variable left at All outside `$__conditionalAll` is an error here
 * (Grafana would list every value), so a query cannot silently depend on the tenant list.
 */

export const ALL = '$__all';

export interface QueryContext {
  from: Date;
  to: Date;
  /** Grafana's $__interval for the panel, in milliseconds */
  intervalMs: number;
  /** template variables: a string for a single value, a list for a multi-value selection, or ALL */
  variables: Readonly<Record<string, string | readonly string[]>>;
}

export class MacroError extends Error {
  readonly code = 'DASHBOARD_MACRO';
}

/** The SQL the data source sends to ClickHouse for a panel's raw SQL. */
export function expandQuery(sql: string, ctx: QueryContext): string {
  return expandTimeMacros(interpolateVariables(applyConditionalAll(sql, ctx.variables), ctx.variables), ctx);
}

/** The arguments of a call whose `(` is at `open`, split on top-level commas; null if unclosed. */
function callArgs(sql: string, open: number): { args: string[]; end: number } | null {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    } else if (depth === 0) {
      args.push(sql.slice(start, i));
      return { args, end: i + 1 };
    }
  }
  return null;
}

function isAll(value: string | readonly string[] | undefined): boolean {
  const v = typeof value === 'string' ? value : value?.join(',');
  return v === '' || v === ALL;
}

/** Innermost-last, like the plugin: it rewrites from the last occurrence backwards. */
export function applyConditionalAll(sql: string, variables: QueryContext['variables']): string {
  const macro = '$__conditionalAll(';
  let out = sql;
  for (let at = out.lastIndexOf(macro); at !== -1; at = out.lastIndexOf(macro)) {
    const call = callArgs(out, at + macro.length - 1);
    if (!call || call.args.length !== 2) throw new MacroError(`$__conditionalAll needs (condition, $variable) at: ${out.slice(at, at + 60)}`);
    const name = /^\s*\$\{?(\w+)\}?\s*$/.exec(call.args[1])?.[1];
    if (name === undefined) throw new MacroError(`$__conditionalAll: '${call.args[1].trim()}' is not a variable`);
    const phrase = isAll(variables[name]) ? '1=1' : call.args[0];
    out = out.slice(0, at) + phrase + out.slice(call.end);
  }
  return out;
}

/** `$name` and `${name}`; Grafana's own `$__…` names are left to the backend macros. */
export function interpolateVariables(sql: string, variables: QueryContext['variables']): string {
  return sql.replace(/\$\{(\w+)\}|\$(\w+)\b/g, (whole: string, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    if (name.startsWith('__') || !(name in variables)) return whole;
    const value = variables[name];
    if (isAll(value)) throw new MacroError(`variable '${name}' is All outside $__conditionalAll`);
    // As the plugin formats them: a list quoted and joined, without escaping; a single value as is.
    return typeof value === 'string' ? value : `'${value.join("','")}'`;
  });
}

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
const dateTime = (d: Date): string => `toDateTime(${seconds(d)})`;
const dateTime64 = (d: Date): string => `fromUnixTimestamp64Milli(${d.getTime()})`;
const date = (d: Date): string => `toDate('${d.toISOString().slice(0, 10)}')`;

type Macro = (args: string[], ctx: QueryContext) => string;

function arity(name: string, args: string[], n: number): void {
  if (args.length !== n) throw new MacroError(`$__${name}: expected ${n} argument${n === 1 ? '' : 's'}, received ${args.length}`);
}

const between = (c: string, lo: string, hi: string): string => `${c} >= ${lo} AND ${c} <= ${hi}`;
const intervalSeconds = (c: QueryContext): number => Math.max(Math.floor(c.intervalMs / 1000), 1);

/** A macro of one column argument. */
function onColumn(name: string, expand: (column: string, c: QueryContext) => string): Macro {
  return (args, c) => {
    arity(name, args, 1);
    return expand(args[0], c);
  };
}

function dateTimeFilter(args: string[], c: QueryContext): string {
  arity('dateTimeFilter', args, 2);
  return `(${between(args[0], date(c.from), date(c.to))}) AND (${between(args[1], dateTime(c.from), dateTime(c.to))})`;
}

/** The backend's macro table (pkg/macros/macros.go), by name. */
const MACROS: Readonly<Record<string, Macro>> = {
  fromTime: (_a, c) => dateTime(c.from),
  toTime: (_a, c) => dateTime(c.to),
  fromTime_ms: (_a, c) => dateTime64(c.from),
  toTime_ms: (_a, c) => dateTime64(c.to),
  timeFilter: onColumn('timeFilter', (col, c) => between(col, dateTime(c.from), dateTime(c.to))),
  timeFilter_ms: onColumn('timeFilter_ms', (col, c) => between(col, dateTime64(c.from), dateTime64(c.to))),
  dateFilter: onColumn('dateFilter', (col, c) => between(col, date(c.from), date(c.to))),
  dateTimeFilter,
  dt: dateTimeFilter,
  timeInterval: onColumn('timeInterval', (col, c) => `toStartOfInterval(toDateTime(${col}), INTERVAL ${intervalSeconds(c)} second)`),
  timeInterval_ms: onColumn('timeInterval_ms', (col, c) => `toStartOfInterval(toDateTime64(${col}, 3), INTERVAL ${Math.max(Math.floor(c.intervalMs), 1)} millisecond)`),
  interval_s: (_a, c) => String(intervalSeconds(c)),
};

/** `$__name` or `$__name(args)` (the `(` right after the name); an unknown `$__name` is an error. */
export function expandTimeMacros(sql: string, ctx: QueryContext): string {
  let out = '';
  let rest = sql;
  for (let m = /\$__(\w+)/.exec(rest); m; m = /\$__(\w+)/.exec(rest)) {
    const macro = MACROS[m[1]];
    if (!macro) throw new MacroError(`unknown macro $__${m[1]}`);
    const after = m.index + m[0].length;
    const call = rest[after] === '(' ? callArgs(rest, after) : null;
    if (rest[after] === '(' && !call) throw new MacroError(`$__${m[1]}: unclosed argument list`);
    const trimmed = call ? call.args.map((a) => a.trim()) : [];
    const args = trimmed.length === 1 && trimmed[0] === '' ? [] : trimmed; // `$__name()`: no argument
    out += rest.slice(0, m.index) + macro(args, ctx);
    rest = rest.slice(call ? call.end : after);
  }
  return out + rest;
}
