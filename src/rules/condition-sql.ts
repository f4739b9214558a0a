/**
 * Conditions and aggregates compiled to ClickHouse SQL for windowed and sequence rules. Every
 * literal from a rule file becomes a typed query parameter ({p3:Float64}); the SQL text holds only
 * what this file writes: column names from a fixed mapping, operators and parameter slots.
 */
import { Aggregate, ConditionError, Node, PathNode } from './condition';

/** Query parameters collected while compiling; names are p0, p1, … */
export class SqlParams {
  readonly values: Record<string, unknown> = {};
  private n = 0;

  constructor(private readonly prefix = 'p') {}

  add(value: unknown, type: string): string {
    const name = `${this.prefix}${this.n++}`;
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}

/** Columns of the per-event view (`eventView`): one row per stored event with its concept scores. */
export function conceptColumn(index: number, field: string): string {
  return `c${index}_${field}`;
}

const EVENT_COLUMNS: Record<string, string> = { id: 'event_id', tenant: 'tenant', source: 'source', model: 'model', user: 'user_id' };

/** The view's column for a path, or a ConditionError saying why it is only available in the stream. */
export function columnFor(p: PathNode, concepts: readonly string[]): string {
  const [root, a, b] = p.path;
  if (root === 'concept') return conceptColumn(concepts.indexOf(a), b);
  if (root === 'event' && EVENT_COLUMNS[a]) return EVENT_COLUMNS[a];
  if (root === 'var') return a === 'count' ? 'n' : a;
  const what = root === 'feature' ? 'feature[...]' : `event.${a}${b ? `.${b}` : ''}`;
  throw new ConditionError(`${what} is only available to event rules (windowed and sequence rules read the stored score series)`, p.pos);
}

function literalType(v: number | string | boolean): string {
  return typeof v === 'number' ? 'Float64' : typeof v === 'string' ? 'String' : 'UInt8';
}

function literalValue(v: number | string | boolean): number | string {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

function operand(n: Node, concepts: readonly string[], params: SqlParams): string {
  if (n.kind === 'literal') return params.add(literalValue(n.value), literalType(n.value));
  if (n.kind === 'path') return columnFor(n, concepts);
  return `(${conditionSql(n, concepts, params)})`;
}

/** A boolean condition as a SQL expression over the per-event view (or, with variables, a HAVING clause). */
export function conditionSql(n: Node, concepts: readonly string[], params: SqlParams): string {
  switch (n.kind) {
    case 'literal':
      return `${params.add(literalValue(n.value), 'UInt8')} = 1`;
    case 'path':
      return `${columnFor(n, concepts)} = 1`;
    case 'not':
      return `NOT (${conditionSql(n.expr, concepts, params)})`;
    case 'logic':
      return `(${conditionSql(n.left, concepts, params)}) ${n.op.toUpperCase()} (${conditionSql(n.right, concepts, params)})`;
    case 'in': {
      const type = n.values.length && typeof n.values[0] === 'number' ? 'Array(Float64)' : 'Array(String)';
      return `has(${params.add(n.values.map(literalValue), type)}, ${operand(n.left, concepts, params)})`;
    }
    case 'matches':
      // RE2 in ClickHouse, as in the stream (the parser checked the pattern for both). (?i): the
      // stream is case-insensitive; (?-s): ClickHouse lets '.' match a newline, RE2 by default not.
      return `match(${operand(n.left, concepts, params)}, ${params.add(`(?i-s)${n.pattern}`, 'String')})`;
    case 'compare': {
      const l = operand(n.left, concepts, params);
      const r = operand(n.right, concepts, params);
      if (n.op === 'contains') return `positionCaseInsensitiveUTF8(${l}, ${r}) > 0`;
      return `${l} ${n.op === '==' ? '=' : n.op} ${r}`;
    }
  }
}

/** A numeric operand (an aggregate's argument). */
export function valueSql(n: Node, concepts: readonly string[], params: SqlParams): string {
  return operand(n, concepts, params);
}

/** The aggregate over one group's events; `windowSeconds` turns a count into a rate. */
export function aggregateSql(a: Aggregate, concepts: readonly string[], params: SqlParams, windowSeconds: number): string {
  switch (a.fn) {
    case 'count':
      return 'toFloat64(count())';
    case 'rate':
      return `count() / ${params.add(windowSeconds, 'Float64')}`;
    case 'distinct_users':
      return "toFloat64(uniqExactIf(user_id, user_id != ''))";
    case 'share':
      return `avg(toFloat64(${conditionSql(a.arg as Node, concepts, params)}))`;
    case 'avg':
    case 'max':
    case 'min':
      return `toFloat64(${a.fn}(${valueSql(a.arg as Node, concepts, params)}))`;
    case 'quantile':
      // Nearest-rank quantile with q as a parameter (parametric aggregates cannot take one).
      return `toFloat64(arrayElement(arraySort(groupArray(${valueSql(a.arg as Node, concepts, params)})), toUInt32(greatest(1, ceil(${params.add(a.q, 'Float64')} * count())))))`;
  }
}
