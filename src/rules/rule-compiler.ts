/**
 * One merged rule to a compiled rule (pure): every key checked, conditions parsed with their
 * positions, exceptions folded in, windowed and sequence rules compiled to SQL. Problems go to the
 * file contexts' shared sink; a rule with any problem compiles to null.
 */
import { isMap, isScalar, isSeq, Scalar, Node as YamlNode } from 'yaml';

import { Aggregate, ConditionError, ConditionScope, Node, parseAggregate, parseCondition, parseField, parseValue, pathsOf } from './condition';
import { numberGetter, predicate } from './condition-eval';
import { columnFor } from './condition-sql';
import { parseDuration } from './duration';
import { TEMPLATE_VAR } from './rule-evaluator';
import { FileContext, MATURITY, RULE_KEYS, RULE_KINDS, RuleKind, stringNode } from './rule-file';
import { Severity, SEVERITIES } from '../domain/alert';
import { andAll, Contribution, MacroTable, MergedRule, NO_POS, orAll } from './rule-merge';
import { EventRule, GROUP_FIELDS, GroupField, Rule, RuleScope, SequenceRule, WindowedRule } from './rule-types';
import { buildSequenceQuery, buildWindowedQuery } from './windowed-query';


type RuleBase = Omit<EventRule, 'kind' | 'condition' | 'conditionText' | 'value' | 'test' | 'valueOf'>;

export const DEFAULT_EVERY_MS = 60_000;
const RESERVED_LABELS = new Set(['alertname', 'severity', 'tenant']);

const COMMON_VARS = ['value', 'rule', 'severity'];
const KIND_VARS: Record<RuleKind, RegExp> = {
  event: /^(evidence|event\.(id|tenant|source|model|user|timestamp)|concept\.[a-z_]+\.(score|threshold))$/,
  windowed: /^(count|window|evidence)$/,
  sequence: /^(within|evidence)$/,
};

export class RuleCompiler {
  private readonly ctx: FileContext;
  private kind: RuleKind = 'event';

  constructor(private readonly m: MergedRule, private readonly scope: RuleScope, private readonly macros: MacroTable) {
    this.ctx = m.def.ctx;
  }

  private last(key: string): Contribution | undefined {
    const all = this.m.fields.get(key);
    return all?.[all.length - 1];
  }

  private str(key: string, required = true): string | null {
    const c = this.last(key);
    if (!c) {
      if (required) this.ctx.node(this.m.def.map, `missing '${key}'`);
      return null;
    }
    if (!isScalar(c.node) || typeof c.node.value !== 'string' || !c.node.value.trim()) {
      c.ctx.node(c.node, `'${key}' must be a non-empty string`);
      return null;
    }
    return c.node.value;
  }

  private duration(key: string, fallback: number | null, min: number): number | null {
    const c = this.last(key);
    if (!c) {
      if (fallback === null) this.ctx.node(this.m.def.map, `missing '${key}'`);
      return fallback;
    }
    const text = isScalar(c.node) ? String(c.node.value) : '';
    const ms = parseDuration(text);
    if (ms === null) c.ctx.node(c.node, `${key}: bad duration '${text}' (use e.g. 30s, 10m, 1h30m, 2d)`);
    else if (ms < min) c.ctx.node(c.node, `${key}: must be at least ${min / 1000}s`);
    return ms;
  }

  compile(): Rule | null {
    const { def } = this.m;
    const problemsBefore = this.ctx.problemCount;
    const kindNode = this.last('kind');
    if (kindNode) {
      const k = isScalar(kindNode.node) ? String(kindNode.node.value) : '';
      if ((RULE_KINDS as readonly string[]).includes(k)) this.kind = k as RuleKind;
      else kindNode.ctx.node(kindNode.node, `kind must be one of ${RULE_KINDS.join(', ')}`);
    }
    for (const [k, cs] of this.m.fields) {
      if (RULE_KEYS[k] && !RULE_KEYS[k].includes(this.kind)) for (const c of cs) c.ctx.node(c.node, `'${k}' is not a key of ${this.kind} rules`);
    }
    if (!/^[A-Z]/.test(def.name)) this.ctx.node(def.nameNode, `rule name '${def.name}' must start with a capital letter`);
    const desc = this.str('desc');
    const sev = this.str('severity');
    if (sev && !(SEVERITIES as readonly string[]).includes(sev)) this.ctx.node(this.last('severity')?.node, `severity must be one of ${SEVERITIES.join(', ')}`);
    const tags = this.tags();
    const enabled = this.enabled();
    const labels = this.labels();
    const exception = this.exceptions();
    const groups = this.kind === 'windowed' ? this.groupFields('group_by') : this.kind === 'sequence' ? this.groupFields('by') : (['tenant'] as GroupField[]);
    const annotations = this.annotations(this.kind, labels, groups);
    const base = { name: def.name, desc: desc ?? '', severity: (sev ?? 'info') as Severity, tags, enabled, labels, annotations, file: this.ctx.file, line: this.ctx.line(def.map) };
    let rule: Rule | null;
    if (this.kind === 'event') rule = this.eventRule(base, exception);
    else if (this.kind === 'windowed') rule = this.windowedRule(base, exception, groups);
    else rule = this.sequenceRule(base, exception, groups);
    return this.ctx.problemCount > problemsBefore ? null : rule;
  }

  private tags(): string[] {
    const tags: string[] = [];
    const cs = this.m.fields.get('tags') ?? [];
    if (!cs.length) this.ctx.node(this.m.def.map, `missing 'tags' (a list whose first item is a maturity: ${MATURITY.join(', ')})`);
    for (const c of cs) {
      if (!isSeq(c.node) || c.node.items.length === 0) {
        c.ctx.node(c.node, `'tags' must be a non-empty list whose first item is a maturity (${MATURITY.join(', ')})`);
        continue;
      }
      for (const t of c.node.items) {
        if (!isScalar(t) || typeof t.value !== 'string') c.ctx.node(t as YamlNode, 'tags are strings');
        else tags.push(t.value);
      }
    }
    const first = cs[0];
    if (first && isSeq(first.node) && first.node.items.length && tags.length && !(MATURITY as readonly string[]).includes(tags[0])) {
      first.ctx.node(first.node.items[0] as YamlNode, `the first tag must be a maturity level (${MATURITY.join(', ')})`);
    }
    return tags;
  }

  private enabled(): boolean {
    const c = this.last('enabled');
    if (!c) return true;
    if (!(isScalar(c.node) && typeof c.node.value === 'boolean')) {
      c.ctx.node(c.node, "'enabled' must be true or false");
      return false;
    }
    return c.node.value;
  }

  private stringMap(key: string): Record<string, string> {
    const out: Record<string, string> = {};
    const c = this.last(key);
    if (!c) return out;
    if (!isMap(c.node)) {
      c.ctx.node(c.node, `'${key}' must be a mapping of names to strings`);
      return out;
    }
    for (const pair of c.node.items) {
      const k = pair.key as Scalar;
      const v = pair.value as YamlNode;
      if (!isScalar(k) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(k.value))) c.ctx.node(k as YamlNode, `${key}: name '${String((k as Scalar).value)}' must match [A-Za-z_][A-Za-z0-9_]*`);
      else if (!isScalar(v) || typeof v.value !== 'string') c.ctx.node(v, `${key}.${String(k.value)} must be a string`);
      else out[String(k.value)] = v.value;
    }
    return out;
  }

  private entryNode(key: string, sub: string): { ctx: FileContext; node: YamlNode | undefined } {
    const c = this.last(key) as Contribution;
    return { ctx: c.ctx, node: isMap(c.node) ? ((c.node.get(sub, true) as YamlNode | undefined) ?? c.node) : c.node };
  }

  private labels(): Record<string, string> {
    const labels = this.stringMap('labels');
    for (const [k, v] of Object.entries(labels)) {
      const at = this.entryNode('labels', k);
      if (/\{\{/.test(v)) at.ctx.node(at.node, `labels.${k}: a label must not hold a changing value (templates change the alert's fingerprint with every alert; put it in annotations)`);
      else if (RESERVED_LABELS.has(k)) at.ctx.node(at.node, `labels.${k}: '${k}' is set by the engine`);
    }
    return labels;
  }

  private annotations(kind: RuleKind, labels: Record<string, string>, groups: GroupField[]): Record<string, string> {
    const annotations = this.stringMap('annotations');
    const labelNames = new Set(['alertname', 'severity', ...groups, ...Object.keys(labels)]);
    for (const [k, v] of Object.entries(annotations)) {
      for (const match of v.matchAll(TEMPLATE_VAR)) {
        const name = match[1];
        const label = /^labels\.(.+)$/.exec(name);
        const ok = label ? labelNames.has(label[1]) : COMMON_VARS.includes(name) || KIND_VARS[kind].test(name);
        if (!ok) {
          const at = this.entryNode('annotations', k);
          at.ctx.node(at.node, `annotations.${k}: unknown template variable '${name}' in ${kind === 'event' ? 'an' : 'a'} ${kind} rule${label ? ` (labels: ${[...labelNames].join(', ')})` : ''}`);
        }
      }
    }
    return annotations;
  }

  /** Exceptions (allow-lists) as one condition that is true when the event is excepted. */
  private exceptions(): Node | null {
    const alternatives: Node[] = [];
    const names = new Set<string>();
    for (const c of this.m.fields.get('exceptions') ?? []) {
      if (!isSeq(c.node)) {
        c.ctx.node(c.node, "'exceptions' must be a list of {name, fields, values}");
        continue;
      }
      for (const item of c.node.items) {
        const e = this.exception(c.ctx, item as YamlNode, names);
        if (e) alternatives.push(e);
      }
    }
    return alternatives.length ? orAll(alternatives) : null;
  }

  private exception(ctx: FileContext, item: YamlNode, names: Set<string>): Node | null {
    if (!isMap(item)) {
      ctx.node(item, 'an exception is a mapping with name, fields and values');
      return null;
    }
    for (const pair of item.items) {
      const k = String((pair.key as Scalar).value);
      if (!['name', 'fields', 'values'].includes(k)) ctx.node(pair.key as YamlNode, `unknown key '${k}' in an exception (name, fields, values)`);
    }
    const name = stringNode(ctx, item, 'name');
    if (name && names.has(String(name.value))) ctx.node(name, `duplicate exception name '${String(name.value)}'`);
    if (name) names.add(String(name.value));
    const fieldsNode = item.get('fields', true) as YamlNode | undefined;
    const fields: Node[] = [];
    if (!isSeq(fieldsNode) || !fieldsNode.items.length) {
      ctx.node(fieldsNode ?? item, "'fields' must be a non-empty list such as [event.tenant, event.user]");
      return null;
    }
    for (const f of fieldsNode.items) {
      if (!isScalar(f)) {
        ctx.node(f as YamlNode, 'a field is a path such as event.user');
        continue;
      }
      const n = ctx.compile(f, (s) => {
        const node = parseField(s, this.macros.conditionScope());
        if (node.kind !== 'path' || node.path[0] !== 'event' || node.path[1] === 'text') throw new ConditionError('exception fields are event.tenant, event.source, event.model, event.user, event.id or event.metadata.<key>', node.pos);
        if (this.kind !== 'event') columnFor(node, this.scope.concepts);
        return node;
      });
      if (n) fields.push(n);
    }
    if (fields.length !== fieldsNode.items.length) return null;
    const valuesNode = item.get('values', true) as YamlNode | undefined;
    if (!isSeq(valuesNode) || !valuesNode.items.length) {
      ctx.node(valuesNode ?? item, "'values' must be a non-empty list of value tuples, e.g. [[acme, u-1]]");
      return null;
    }
    const alternatives: Node[] = [];
    for (const v of valuesNode.items) {
      const tuple = isSeq(v) ? v.items : [v];
      if (tuple.length !== fields.length || !tuple.every((x) => isScalar(x) && (typeof x.value === 'string' || typeof x.value === 'number'))) {
        ctx.node(v as YamlNode, `each value must be a tuple of ${fields.length} string(s) matching fields`);
        continue;
      }
      const eqs: Node[] = fields.map((f, i) => ({
        kind: 'compare', op: '==', left: f, right: { kind: 'literal', type: 'string', value: String((tuple[i] as Scalar).value), pos: NO_POS }, pos: NO_POS,
      }));
      alternatives.push(andAll(eqs));
    }
    return alternatives.length ? orAll(alternatives) : null;
  }

  /** Fragments of an appendable condition, each parsed on its own (so positions stay right), ANDed. */
  private condition(key: string, scope: ConditionScope, sqlCheck: boolean, required: boolean): { node: Node | null; text: string } {
    const cs = this.m.fields.get(key) ?? [];
    if (!cs.length) {
      if (required) this.ctx.node(this.m.def.map, `missing '${key}'`);
      return { node: null, text: '' };
    }
    const parts: Array<Node | null> = [];
    for (const c of cs) {
      if (!isScalar(c.node) || typeof c.node.value !== 'string' || !c.node.value.trim()) {
        c.ctx.node(c.node, `'${key}' must be a non-empty string`);
        parts.push(null);
        continue;
      }
      parts.push(c.ctx.compile(c.node, (s) => {
        const n = parseCondition(s, scope);
        if (sqlCheck) checkSqlPaths(n, this.scope.concepts);
        return n;
      }));
    }
    const texts = cs.map((c) => (isScalar(c.node) ? String(c.node.value).trim() : ''));
    const text = texts.length > 1 ? texts.map((t) => `(${t})`).join(' and ') : texts[0];
    return { node: parts.some((p) => p === null) ? null : andAll(parts as Node[]), text };
  }

  private eventRule(base: RuleBase, exception: Node | null): EventRule | null {
    const cond = this.condition('condition', this.macros.conditionScope(), false, true);
    const valueC = this.last('value');
    let value: Node | null = null;
    if (valueC) {
      if (!isScalar(valueC.node) || typeof valueC.node.value !== 'string') valueC.ctx.node(valueC.node, "'value' must be a numeric field such as concept.harmful_intent.score");
      else value = valueC.ctx.compile(valueC.node, (s) => parseValue(s, this.macros.conditionScope()));
    }
    if (!cond.node) return null;
    const condition = withException(cond.node, exception);
    return { ...base, kind: 'event', condition, conditionText: cond.text, value, test: predicate(condition), valueOf: value ? numberGetter(value) : null };
  }

  private groupFields(key: string): GroupField[] {
    const c = this.last(key);
    const out: GroupField[] = ['tenant'];
    if (!c) return out;
    if (!isSeq(c.node)) {
      c.ctx.node(c.node, `'${key}' must be a list of fields (${GROUP_FIELDS.join(', ')})`);
      return out;
    }
    for (const item of c.node.items) {
      const f = isScalar(item) ? String(item.value).replace(/^event\./, '') : '';
      if (f === 'id' || f === 'text' || f === 'timestamp' || f === 'value') {
        c.ctx.node(item as YamlNode, `${key}: '${f}' changes with every event: a changing value in a label makes one alert per event and breaks fingerprints`);
      } else if (!(GROUP_FIELDS as readonly string[]).includes(f)) c.ctx.node(item as YamlNode, `${key}: unknown field '${f}' (${GROUP_FIELDS.join(', ')})`);
      else if (!out.includes(f as GroupField)) out.push(f as GroupField);
    }
    return out;
  }

  private windowedRule(base: RuleBase, exception: Node | null, groupBy: GroupField[]): WindowedRule | null {
    for (const g of groupBy) if (base.labels[g] !== undefined) this.ctx.node(this.entryNode('labels', g).node, `labels.${g}: '${g}' is a group_by label`);
    const whereC = this.condition('where', this.macros.conditionScope(), true, false);
    const aggC = this.last('aggregate');
    let aggregate: Aggregate | null = null;
    if (!aggC) this.ctx.node(this.m.def.map, "missing 'aggregate' (count(), rate(), distinct_users(), share(cond), avg|max|min(x), quantile(q, x))");
    else if (!isScalar(aggC.node) || typeof aggC.node.value !== 'string') aggC.ctx.node(aggC.node, "'aggregate' must be a string such as share(concept.harmful_intent.flagged)");
    else {
      aggregate = aggC.ctx.compile(aggC.node, (s) => {
        const a = parseAggregate(s, this.macros.conditionScope());
        if (a.arg) checkSqlPaths(a.arg, this.scope.concepts);
        return a;
      });
    }
    const vars = { value: 'number', count: 'number' } as const;
    const cond = this.condition('condition', this.macros.conditionScope({ variables: vars }), false, true);
    if (cond.node) this.checkHavingPaths(cond.node, groupBy);
    const windowMs = this.duration('window', null, 1000);
    const everyMs = this.duration('every', Math.min(DEFAULT_EVERY_MS, windowMs ?? DEFAULT_EVERY_MS), 1000);
    const forMs = this.duration('for', 0, 0);
    const keepMs = this.duration('keep_firing_for', 0, 0);
    if (windowMs !== null && windowMs > 31 * 86_400_000) this.ctx.node(this.last('window')?.node, 'window: at most 31d');
    if (!aggregate || !cond.node || windowMs === null || everyMs === null || forMs === null || keepMs === null) return null;
    const where = whereC.node || exception ? withException(whereC.node ?? { kind: 'literal', type: 'boolean', value: true, pos: NO_POS }, exception) : null;
    const rule: Omit<WindowedRule, 'query'> = {
      ...base, kind: 'windowed', conditionText: cond.text, aggregateText: String((aggC as Contribution & { node: Scalar }).node.value), aggregate, where, condition: cond.node,
      windowMs, everyMs, forMs, keepFiringForMs: keepMs, groupBy,
    };
    return { ...rule, query: buildWindowedQuery(rule, this.scope.concepts) };
  }

  /** A windowed condition runs after grouping: it may use value, count and the group_by fields. */
  private checkHavingPaths(n: Node, groupBy: GroupField[]): void {
    const bad = pathsOf(n).find((p) => !(p.path[0] === 'var' || (p.path[0] === 'event' && (groupBy as string[]).includes(p.path[1]))));
    if (bad) {
      const c = this.last('condition') as Contribution;
      c.ctx.node(c.node, `a windowed condition can use value, count and the group_by fields (${groupBy.join(', ')}); '${bad.path.join('.')}' belongs in 'where'`);
    }
  }

  private sequenceRule(base: RuleBase, exception: Node | null, by: GroupField[]): SequenceRule | null {
    const c = this.last('steps');
    const steps: Node[] = [];
    const texts: string[] = [];
    let ok = true;
    if (!c) {
      this.ctx.node(this.m.def.map, "missing 'steps' (two or more conditions, in order)");
      return null;
    }
    if (!isSeq(c.node) || c.node.items.length < 2) {
      c.ctx.node(c.node, "'steps' must be a list of two or more conditions");
      return null;
    }
    for (const item of c.node.items) {
      if (!isScalar(item) || typeof item.value !== 'string') {
        c.ctx.node(item as YamlNode, 'each step is a condition string');
        ok = false;
        continue;
      }
      texts.push(item.value);
      const n = c.ctx.compile(item, (s) => {
        const node = parseCondition(s, this.macros.conditionScope());
        checkSqlPaths(node, this.scope.concepts);
        return node;
      });
      if (n) steps.push(withException(n, exception));
      else ok = false;
    }
    const withinMs = this.duration('within', null, 1000);
    const everyMs = this.duration('every', Math.min(DEFAULT_EVERY_MS, withinMs ?? DEFAULT_EVERY_MS), 1000);
    if (!ok || withinMs === null || everyMs === null) return null;
    const rule: Omit<SequenceRule, 'query'> = { ...base, kind: 'sequence', conditionText: texts.map((t) => `(${t})`).join(' then '), steps, by, withinMs, everyMs };
    return { ...rule, query: buildSequenceQuery(rule, this.scope.concepts) };
  }
}

function withException(cond: Node, exception: Node | null): Node {
  if (!exception) return cond;
  return { kind: 'logic', op: 'and', left: cond, right: { kind: 'not', expr: exception, pos: NO_POS }, pos: cond.pos };
}

/** Throws a positioned ConditionError at the first path that the stored series cannot answer. */
function checkSqlPaths(n: Node, concepts: readonly string[]): void {
  for (const p of pathsOf(n)) columnFor(p, concepts);
}
