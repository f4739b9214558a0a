/**
 * Rule files to a compiled rule set (pure): lists, macros and rules from every file in load order,
 * overrides and appends applied, every condition parsed and type-checked, windowed and sequence
 * rules compiled to parameterised SQL. Every problem of every file is reported; a set with any
 * problem is not used (the service keeps its last good set).
 */
import type { Aggregate, EvalContext, Node } from './condition';
import type { Predicate } from './condition-eval';
import { GroupField, RuleCompiler } from './rule-compiler';
import { readRuleFile, RuleProblem } from './rule-file';
import { Severity } from '../domain/alert';
import { MacroTable, mergeLists, mergeRules } from './rule-merge';
import type { CompiledQuery } from './windowed-query';

export interface RuleScope {
  concepts: readonly string[];
  /** SAE features of the probe pack; without it feature indices are not checked. */
  features?: ReadonlySet<number>;
}

interface RuleBase {
  name: string;
  desc: string;
  severity: Severity;
  tags: string[];
  enabled: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  file: string;
  line: number;
}

export interface EventRule extends RuleBase {
  kind: 'event';
  /** The rule's condition with its exceptions folded in: `(c1) and (c2…) and not (exception)`. */
  condition: Node;
  conditionText: string;
  value: Node | null;
  /** The condition and value compiled to closures (what the stream runs). */
  test: Predicate;
  valueOf: ((ctx: EvalContext) => number) | null;
}

export type { GroupField } from './rule-compiler';

export interface WindowedRule extends RuleBase {
  kind: 'windowed';
  conditionText: string;
  aggregateText: string;
  aggregate: Aggregate;
  where: Node | null;
  condition: Node;
  windowMs: number;
  everyMs: number;
  forMs: number;
  keepFiringForMs: number;
  /** Label names of the groups (tenant first, always present). */
  groupBy: GroupField[];
  query: CompiledQuery;
}

export interface SequenceRule extends RuleBase {
  kind: 'sequence';
  conditionText: string;
  steps: Node[];
  by: GroupField[];
  withinMs: number;
  everyMs: number;
  query: CompiledQuery;
}

export type Rule = EventRule | WindowedRule | SequenceRule;

export interface CompiledRuleSet {
  rules: Rule[];
  problems: RuleProblem[];
}

export function compileRuleSet(files: ReadonlyArray<{ file: string; text: string }>, scope: RuleScope): CompiledRuleSet {
  const problems: RuleProblem[] = [];
  const raws = files.map((f) => readRuleFile(f.file, f.text, problems));
  const lists = mergeLists(raws);
  const macros = new MacroTable(raws, scope, lists);
  const merged = mergeRules(raws);
  macros.compileAll();
  const rules: Rule[] = [];
  for (const m of merged) {
    const r = new RuleCompiler(m, scope, macros).compile();
    if (r) rules.push(r);
  }
  // Report in reading order: file by file (in load order), then line and column.
  const order = new Map(files.map((f, i) => [f.file, i]));
  problems.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line || a.col - b.col);
  return { rules: problems.length ? [] : rules, problems };
}
