/**
 * Rule files (`rules/*.yaml`, apiVersion probewatch/v1), first stage: YAML to raw entries (lists,
 * macros, rules) that keep their YAML nodes, so the later stages (`rule-set.ts`: merge overrides,
 * compile conditions) can report every problem as `file:line:col: message`. Nothing stops at the
 * first problem. The format is documented in rules/README.md.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, YAMLMap, Node as YamlNode } from 'yaml';

import { ConditionError } from './condition';

export const API_VERSION = 'probewatch/v1';
export const ENGINE_VERSION = '1.1.0';
export const MATURITY = ['stable', 'incubating', 'sandbox', 'deprecated'] as const;
export const RULE_KINDS = ['event', 'windowed', 'sequence'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** Keys a rule may have, in the house order, and the kinds that accept each. */
export const RULE_KEYS: Record<string, readonly RuleKind[]> = {
  rule: RULE_KINDS, desc: RULE_KINDS, severity: RULE_KINDS, tags: RULE_KINDS, enabled: RULE_KINDS, kind: RULE_KINDS,
  condition: ['event', 'windowed'], value: ['event'],
  where: ['windowed'], aggregate: ['windowed'], window: ['windowed'], group_by: ['windowed'], for: ['windowed'], keep_firing_for: ['windowed'],
  steps: ['sequence'], by: ['sequence'], within: ['sequence'],
  every: ['windowed', 'sequence'],
  exceptions: RULE_KINDS, labels: RULE_KINDS, annotations: RULE_KINDS, override: RULE_KINDS,
};
/** Keys whose override may append (the rest replace). */
export const APPENDABLE = new Set(['condition', 'where', 'exceptions', 'tags']);

export interface RuleProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: RuleProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** One file being read: where its problems go, and how to turn offsets into line:col. */
export class FileContext {
  readonly lc = new LineCounter();
  constructor(readonly file: string, private readonly sink: RuleProblem[], private readonly source: string) {}

  /** Problems reported so far, by every file sharing the sink. */
  get problemCount(): number {
    return this.sink.length;
  }

  at(offset: number | undefined, message: string): void {
    const p = this.lc.linePos(offset ?? 0);
    this.sink.push({ file: this.file, line: p.line, col: p.col, message });
  }

  node(n: YamlNode | null | undefined, message: string): void {
    this.at(n?.range?.[0], message);
  }

  line(n: YamlNode | null | undefined): number {
    return this.lc.linePos(n?.range?.[0] ?? 0).line;
  }

  /** Runs a compiler on a scalar's text; a ConditionError is reported at its place in the file. */
  compile<T>(node: Scalar, fn: (s: string) => T): T | null {
    try {
      return fn(String(node.value));
    } catch (e) {
      if (!(e instanceof ConditionError)) throw e;
      this.at(this.offsetIn(node, e.pos.line, e.pos.col, e.pos.offset), e.message);
      return null;
    }
  }

  /** File offset of a position inside a scalar (plain, quoted or block). */
  private offsetIn(node: Scalar, line: number, col: number, offset: number): number {
    const start = node.range?.[0] ?? 0;
    if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
      // Content starts on the line after the '|' or '>' header, indented.
      const contentLine = this.lc.linePos(start).line + line;
      const lineStart = this.lc.lineStarts[contentLine - 1] ?? start;
      const indent = /^ */.exec(this.source.slice(lineStart))?.[0].length ?? 0;
      return lineStart + indent + col - 1;
    }
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    if (line === 1) return start + quoted + offset;
    // A multi-line plain or quoted scalar: lines are folded, so find the line in the file.
    const lineStart = this.lc.lineStarts[this.lc.linePos(start).line + line - 2] ?? start;
    const indent = /^ */.exec(this.source.slice(lineStart))?.[0].length ?? 0;
    return lineStart + indent + col - 1;
  }
}

export interface RawList {
  ctx: FileContext;
  name: string;
  nameNode: YamlNode;
  items: Array<number | string>;
  /** null: a definition; append/replace: changes a list defined earlier. */
  mode: 'append' | 'replace' | null;
}

export interface RawMacro {
  ctx: FileContext;
  name: string;
  nameNode: YamlNode;
  condition: Scalar | null;
  mode: 'append' | 'replace' | null;
}

export interface RawRule {
  ctx: FileContext;
  name: string;
  nameNode: YamlNode;
  map: YAMLMap;
  /** key -> its YAML node */
  fields: Map<string, YamlNode>;
  /** null: a definition; otherwise the keys this entry changes in an earlier rule, and how. */
  override: Map<string, 'append' | 'replace'> | null;
}

export interface RawFile {
  ctx: FileContext;
  lists: RawList[];
  macros: RawMacro[];
  rules: RawRule[];
}

function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** A non-empty string scalar, or null after reporting why not. */
export function stringNode(ctx: FileContext, map: YAMLMap, key: string, required = true): Scalar | null {
  const n = map.get(key, true) as YamlNode | undefined;
  if (n === undefined) {
    if (required) ctx.node(map, `missing '${key}'`);
    return null;
  }
  if (!isScalar(n) || typeof n.value !== 'string' || !n.value.trim()) {
    ctx.node(n, `'${key}' must be a non-empty string`);
    return null;
  }
  return n;
}

export function readRuleFile(file: string, text: string, sink: RuleProblem[]): RawFile {
  const ctx = new FileContext(file, sink, text);
  const out: RawFile = { ctx, lists: [], macros: [], rules: [] };
  const doc = parseDocument(text, { lineCounter: ctx.lc, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) ctx.at(e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (doc.errors.length) return out;
  const root = doc.contents;
  if (!isMap(root)) {
    ctx.node(root, 'a rule file is a mapping with apiVersion, engine and rules');
    return out;
  }
  for (const pair of root.items) {
    const k = String((pair.key as Scalar).value);
    if (!['apiVersion', 'engine', 'lists', 'macros', 'rules'].includes(k)) ctx.node(pair.key as YamlNode, `unknown top-level key '${k}' (apiVersion, engine, lists, macros, rules)`);
  }
  const api = root.get('apiVersion', true) as Scalar | undefined;
  if (!api || api.value !== API_VERSION) ctx.node(api ?? root, `apiVersion must be '${API_VERSION}'`);
  const engine = root.get('engine', true) as Scalar | undefined;
  if (!engine) ctx.node(root, `missing 'engine' (the engine version the file needs, e.g. ">=${ENGINE_VERSION.replace(/\.0$/, '')}")`);
  else {
    const m = /^>=\s*(\d+(\.\d+){0,2})$/.exec(String(engine.value));
    if (!m) ctx.node(engine, "engine must look like '>=1.1'");
    else if (!versionAtLeast(ENGINE_VERSION, m[1])) ctx.node(engine, `file needs engine ${m[1]}, this is ${ENGINE_VERSION}`);
  }
  const section = (key: string): YamlNode[] => {
    const n = root.get(key, true) as YamlNode | undefined;
    if (n === undefined) return [];
    if (!isSeq(n)) {
      ctx.node(n, `'${key}' must be a list`);
      return [];
    }
    return n.items as YamlNode[];
  };
  for (const item of section('lists')) readList(ctx, item, out);
  for (const item of section('macros')) readMacro(ctx, item, out);
  for (const item of section('rules')) readRule(ctx, item, out);
  return out;
}

function checkKeys(ctx: FileContext, m: YAMLMap, allowed: string[], what: string): void {
  for (const pair of m.items) {
    const k = String((pair.key as Scalar).value);
    if (!allowed.includes(k)) ctx.node(pair.key as YamlNode, `unknown key '${k}' in a ${what} (allowed: ${allowed.join(', ')})`);
  }
}

/** `override: {items: append}` style maps. */
function readOverride(ctx: FileContext, m: YAMLMap, allowed: string[]): Map<string, 'append' | 'replace'> | null {
  const n = m.get('override', true) as YamlNode | undefined;
  if (n === undefined) return null;
  const out = new Map<string, 'append' | 'replace'>();
  if (!isMap(n)) {
    ctx.node(n, "'override' must map keys to append or replace, e.g. {condition: append}");
    return out;
  }
  for (const pair of n.items) {
    const k = String((pair.key as Scalar).value);
    const v = isScalar(pair.value) ? String(pair.value.value) : '';
    if (!allowed.includes(k)) ctx.node(pair.key as YamlNode, `override: '${k}' cannot be overridden (${allowed.join(', ')})`);
    else if (v !== 'append' && v !== 'replace') ctx.node(pair.value as YamlNode, `override.${k} must be append or replace`);
    else if (v === 'append' && !APPENDABLE.has(k) && k !== 'items') ctx.node(pair.value as YamlNode, `override.${k}: only ${[...APPENDABLE].join(', ')} can be appended; use replace`);
    else if (m.get(k, true) === undefined) ctx.node(pair.key as YamlNode, `override.${k}: the entry has no '${k}' to ${v}`);
    else out.set(k, v);
  }
  return out;
}

function readList(ctx: FileContext, item: YamlNode, out: RawFile): void {
  if (!isMap(item)) return ctx.node(item, 'each list is a mapping with list and items');
  checkKeys(ctx, item, ['list', 'items', 'override'], 'list');
  const name = stringNode(ctx, item, 'list');
  if (name && !/^[a-z_][a-z0-9_]*$/.test(String(name.value))) ctx.node(name, `list name '${String(name.value)}' must be snake_case`);
  const itemsNode = item.get('items', true) as YamlNode | undefined;
  const items: Array<number | string> = [];
  if (!isSeq(itemsNode)) ctx.node(itemsNode ?? item, "'items' must be a list of strings or numbers");
  else {
    for (const v of itemsNode.items) {
      if (isScalar(v) && (typeof v.value === 'string' || typeof v.value === 'number')) items.push(v.value);
      else ctx.node(v as YamlNode, 'list items are strings or numbers');
    }
    if (items.length && items.some((v) => typeof v !== typeof items[0])) ctx.node(itemsNode, 'a list holds strings or numbers, not both');
  }
  const override = readOverride(ctx, item, ['items']);
  if (name) out.lists.push({ ctx, name: String(name.value), nameNode: name, items, mode: override?.get('items') ?? null });
}

function readMacro(ctx: FileContext, item: YamlNode, out: RawFile): void {
  if (!isMap(item)) return ctx.node(item, 'each macro is a mapping with macro and condition');
  checkKeys(ctx, item, ['macro', 'condition', 'override'], 'macro');
  const name = stringNode(ctx, item, 'macro');
  if (name && !/^[a-z_][a-z0-9_]*$/.test(String(name.value))) ctx.node(name, `macro name '${String(name.value)}' must be snake_case`);
  const condition = stringNode(ctx, item, 'condition');
  const override = readOverride(ctx, item, ['condition']);
  if (name) out.macros.push({ ctx, name: String(name.value), nameNode: name, condition, mode: override?.get('condition') ?? null });
}

function readRule(ctx: FileContext, item: YamlNode, out: RawFile): void {
  if (!isMap(item)) return ctx.node(item, 'each rule is a mapping');
  checkKeys(ctx, item, Object.keys(RULE_KEYS), 'rule');
  const name = stringNode(ctx, item, 'rule');
  if (!name) return;
  const fields = new Map<string, YamlNode>();
  for (const pair of item.items) fields.set(String((pair.key as Scalar).value), pair.value as YamlNode);
  fields.delete('override');
  let override = readOverride(ctx, item, Object.keys(RULE_KEYS).filter((k) => k !== 'rule' && k !== 'override' && k !== 'kind'));
  // Falco's shorthand: `- rule: X` + `enabled: false` switches a rule defined elsewhere off.
  if (!override && fields.size === 2 && fields.has('enabled')) override = new Map([['enabled', 'replace']]);
  if (override) {
    for (const k of fields.keys()) {
      if (k !== 'rule' && !override.has(k)) ctx.node(item.get(k, true) as YamlNode, `'${k}' is not listed in override (add ${k}: append or replace)`);
    }
  }
  out.rules.push({ ctx, name: String(name.value), nameNode: name, map: item, fields, override });
}
