/**
 * The compiled rule types every rules stage shares (pure types, no code): the rule set compiles
 * to them, the evaluators and the scheduler read them.
 */
import type { Severity } from '../domain/alert';
import type { Aggregate, EvalContext, Node } from './condition';
import type { Predicate } from './condition-eval';
import type { RuleProblem } from './rule-file';

export const GROUP_FIELDS = ['tenant', 'source', 'model', 'user'] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

export interface RuleScope {
  concepts: readonly string[];
  /** SAE features of the probe pack; without it feature indices are not checked. */
  features?: ReadonlySet<number>;
}

export interface RuleBase {
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

export interface CompiledQuery {
  sql: string;
  params: Record<string, unknown>;
  /** Output columns naming each group (label name -> column). */
  groupColumns: Array<{ label: GroupField; column: string }>;
}
