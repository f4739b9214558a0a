/**
 * Rule files to a compiled rule set (pure): lists, macros and rules from every file in load order,
 * overrides and appends applied, every condition parsed and type-checked, windowed and sequence
 * rules compiled to parameterised SQL. Every problem of every file is reported; a set with any
 * problem is not used (the service keeps its last good set).
 */
import { RuleCompiler } from './rule-compiler';
import { readRuleFile, RuleProblem } from './rule-file';
import { MacroTable, mergeLists, mergeRules } from './rule-merge';
import type { CompiledRuleSet, Rule, RuleScope } from './rule-types';

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
