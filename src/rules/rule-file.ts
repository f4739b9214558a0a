/**
 * Rule files (`rules/*.yaml`, apiVersion probewatch/v1): parsing and validation, separate from
 * evaluation. Every problem is reported as `file:line:col: message`; nothing stops at the first.
 *
 *   apiVersion: probewatch/v1
 *   engine: ">=1.0"                      # engine version the file needs
 *   rules:
 *     - rule: Harmful Intent Request     # capitalised, unique
 *       desc: what it detects and how to tune it
 *       severity: critical               # info | low | medium | high | critical
 *       tags: [stable, harmful_intent]   # maturity first: stable | incubating | sandbox | deprecated
 *       enabled: true
 *       condition: concept.harmful_intent.flagged and concept.harmful_intent.score >= 0.7
 *       value: concept.harmful_intent.score
 *       labels: {concept: harmful_intent}              # static: no templates (fingerprints)
 *       annotations: {summary: "... {{ event.tenant }} ... {{ value }}"}
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, YAMLMap, Node as YamlNode } from 'yaml';

import { ConditionError, ConditionScope, Node, parseCondition, parseValue } from './condition';

export const API_VERSION = 'probewatch/v1';
export const ENGINE_VERSION = '1.0.0';
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const MATURITY = ['stable', 'incubating', 'sandbox', 'deprecated'] as const;
const TEMPLATE_VARS = /^(value|evidence|rule|severity|labels\.[A-Za-z_][A-Za-z0-9_]*|event\.(id|tenant|source|model|timestamp)|concept\.[a-z_]+\.(score|threshold))$/;
const RULE_KEYS = ['rule', 'desc', 'severity', 'tags', 'enabled', 'condition', 'value', 'labels', 'annotations'];

export interface Rule {
  name: string;
  desc: string;
  severity: Severity;
  tags: string[];
  enabled: boolean;
  condition: Node;
  conditionText: string;
  value: Node | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  file: string;
  line: number;
}

export interface RuleProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: RuleProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

export interface ParsedRuleFile {
  rules: Rule[];
  problems: RuleProblem[];
}

function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export function parseRuleFile(file: string, text: string, scope: ConditionScope): ParsedRuleFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: RuleProblem[] = [];
  const at = (offset: number | undefined, message: string): void => {
    const p = lc.linePos(offset ?? 0);
    problems.push({ file, line: p.line, col: p.col, message });
  };
  const nodeAt = (n: YamlNode | null | undefined, message: string): void => at(n?.range?.[0], message);
  for (const e of doc.errors) at(e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (doc.errors.length) return { rules: [], problems };
  const root = doc.contents;
  if (!isMap(root)) {
    nodeAt(root, 'a rule file is a mapping with apiVersion and rules');
    return { rules: [], problems };
  }
  const api = root.get('apiVersion', true) as Scalar | undefined;
  if (!api || api.value !== API_VERSION) nodeAt(api ?? root, `apiVersion must be '${API_VERSION}'`);
  const engine = root.get('engine', true) as Scalar | undefined;
  if (engine) {
    const m = /^>=\s*(\d+(\.\d+){0,2})$/.exec(String(engine.value));
    if (!m) nodeAt(engine, "engine must look like '>=1.0'");
    else if (!versionAtLeast(ENGINE_VERSION, m[1])) nodeAt(engine, `file needs engine ${m[1]}, this is ${ENGINE_VERSION}`);
  }
  const list = root.get('rules', true);
  if (!isSeq(list)) {
    nodeAt((list as YamlNode | undefined) ?? root, 'rules must be a list');
    return { rules: [], problems };
  }
  const rules: Rule[] = [];
  const seen = new Map<string, number>();
  for (const item of list.items) {
    if (!isMap(item)) {
      nodeAt(item as YamlNode, 'each rule is a mapping');
      continue;
    }
    const r = parseRule(file, item, scope, lc, nodeAt, at);
    if (!r) continue;
    const prev = seen.get(r.name);
    if (prev !== undefined) nodeAt(item.get('rule', true) as YamlNode, `duplicate rule name '${r.name}' (first at line ${prev})`);
    else seen.set(r.name, r.line);
    rules.push(r);
  }
  return { rules: problems.length ? [] : rules, problems };
}

type Report = (n: YamlNode | null | undefined, message: string) => void;

function str(map: YAMLMap, key: string, report: Report, required = true): Scalar | null {
  const n = map.get(key, true) as YamlNode | undefined;
  if (n === undefined) {
    if (required) report(map, `missing '${key}'`);
    return null;
  }
  if (!isScalar(n) || typeof n.value !== 'string' || !n.value.trim()) {
    report(n, `'${key}' must be a non-empty string`);
    return null;
  }
  return n;
}

function stringMap(map: YAMLMap, key: string, report: Report): Record<string, string> {
  const n = map.get(key, true) as YamlNode | undefined;
  const out: Record<string, string> = {};
  if (n === undefined) return out;
  if (!isMap(n)) {
    report(n, `'${key}' must be a mapping of names to strings`);
    return out;
  }
  for (const pair of n.items) {
    const k = pair.key as Scalar;
    const v = pair.value as YamlNode;
    if (!isScalar(k) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(k.value))) report(k as YamlNode, `${key}: name '${String((k as Scalar).value)}' must match [A-Za-z_][A-Za-z0-9_]*`);
    else if (!isScalar(v) || typeof v.value !== 'string') report(v, `${key}.${String(k.value)} must be a string`);
    else out[String(k.value)] = v.value;
  }
  return out;
}

function parseRule(file: string, m: YAMLMap, scope: ConditionScope, lc: LineCounter, report: Report, at: (o: number | undefined, msg: string) => void): Rule | null {
  const before = new Set<string>();
  for (const pair of m.items) {
    const k = String((pair.key as Scalar).value);
    if (!RULE_KEYS.includes(k)) report(pair.key as YamlNode, `unknown key '${k}' (allowed: ${RULE_KEYS.join(', ')})`);
    before.add(k);
  }
  const name = str(m, 'rule', report);
  if (name && !/^[A-Z]/.test(String(name.value))) report(name, `rule name '${String(name.value)}' must start with a capital letter`);
  const desc = str(m, 'desc', report);
  const sev = str(m, 'severity', report);
  if (sev && !(SEVERITIES as readonly string[]).includes(String(sev.value))) report(sev, `severity must be one of ${SEVERITIES.join(', ')}`);
  const tagsNode = m.get('tags', true) as YamlNode | undefined;
  const tags: string[] = [];
  if (!isSeq(tagsNode) || tagsNode.items.length === 0) report(tagsNode ?? m, `'tags' must be a non-empty list whose first item is a maturity (${MATURITY.join(', ')})`);
  else {
    for (const t of tagsNode.items) {
      if (!isScalar(t) || typeof t.value !== 'string') report(t as YamlNode, 'tags are strings');
      else tags.push(t.value);
    }
    if (tags.length && !(MATURITY as readonly string[]).includes(tags[0])) report(tagsNode.items[0] as YamlNode, `the first tag must be a maturity level (${MATURITY.join(', ')})`);
  }
  const enabledNode = m.get('enabled', true) as YamlNode | undefined;
  if (enabledNode !== undefined && !(isScalar(enabledNode) && typeof enabledNode.value === 'boolean')) report(enabledNode, "'enabled' must be true or false");
  const cond = str(m, 'condition', report);
  let condition: Node | null = null;
  const compile = <T>(node: Scalar, fn: (s: string) => T): T | null => {
    try {
      return fn(String(node.value));
    } catch (e) {
      if (!(e instanceof ConditionError)) throw e;
      // Position inside the condition text -> position in the file (block scalars start a line later).
      const src = node.source ?? String(node.value);
      const base = (node.range?.[0] ?? 0) + (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0);
      const offset = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED' ? blockOffset(lc, node, e.pos.line, e.pos.col) : base + e.pos.offset;
      void src;
      at(offset, e.message);
      return null;
    }
  };
  if (cond) condition = compile(cond, (s) => parseCondition(s, scope));
  const valNode = str(m, 'value', report, false);
  const value = valNode ? compile(valNode, (s) => parseValue(s, scope)) : null;
  const labels = stringMap(m, 'labels', report);
  for (const [k, v] of Object.entries(labels)) {
    if (/\{\{/.test(v)) report(findValue(m, 'labels', k), `labels.${k}: labels must not contain templates (a changing value in a label breaks alert fingerprints; use annotations)`);
  }
  const annotations = stringMap(m, 'annotations', report);
  for (const [k, v] of Object.entries(annotations)) {
    for (const match of v.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if (!TEMPLATE_VARS.test(match[1])) report(findValue(m, 'annotations', k), `annotations.${k}: unknown template variable '${match[1]}'`);
    }
  }
  if (!name || !desc || !sev || !cond || !condition) return null;
  return {
    name: String(name.value),
    desc: String(desc.value),
    severity: String(sev.value) as Severity,
    tags,
    enabled: enabledNode === undefined ? true : Boolean((enabledNode as Scalar).value),
    condition,
    conditionText: String(cond.value),
    value,
    labels,
    annotations,
    file,
    line: lc.linePos(m.range?.[0] ?? 0).line,
  };
}

function findValue(m: YAMLMap, key: string, sub: string): YamlNode | undefined {
  const map = m.get(key, true);
  return isMap(map) ? ((map.get(sub, true) as YamlNode | undefined) ?? (map as YamlNode)) : undefined;
}

/** File offset of (line, col) inside a block scalar's content. */
function blockOffset(lc: LineCounter, node: Scalar, line: number, col: number): number {
  const start = node.range?.[0] ?? 0;
  const headerLine = lc.linePos(start).line;
  const contentLine = headerLine + line; // content starts on the line after the '|' or '>' header
  const lineStart = lc.lineStarts[contentLine - 1] ?? start;
  const indentMatch = /^\s*/.exec(node.source ?? '');
  void indentMatch;
  return lineStart + col - 1;
}
