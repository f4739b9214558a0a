/**
 * Merging rule files in load order (pure): lists and macros (with their overrides), rule
 * definitions and the overrides later files apply to them. Macros compile on first use.
 */
import type { Node as YamlNode, Scalar } from 'yaml';

import { ConditionError, ConditionScope, Node, parseCondition, SourcePos } from './condition';
import type { FileContext, RawFile, RawRule } from './rule-file';
import type { RuleScope } from './rule-types';

export const NO_POS: SourcePos = { offset: 0, line: 1, col: 1 };

export function where(ctx: FileContext, n: YamlNode | null | undefined): string {
  return `${ctx.file}:${ctx.line(n)}`;
}

export function mergeLists(raws: RawFile[]): Map<string, Array<number | string>> {
  const out = new Map<string, Array<number | string>>();
  const defined = new Map<string, string>();
  for (const f of raws) {
    for (const l of f.lists) {
      const prev = defined.get(l.name);
      if (l.mode === null) {
        if (prev) l.ctx.node(l.nameNode, `duplicate list '${l.name}' (first at ${prev}; to change it use override: {items: append|replace})`);
        else {
          defined.set(l.name, where(l.ctx, l.nameNode));
          out.set(l.name, l.items);
        }
      } else if (!prev) l.ctx.node(l.nameNode, `override of unknown list '${l.name}' (lists load in file-name order)`);
      else out.set(l.name, l.mode === 'append' ? [...(out.get(l.name) ?? []), ...l.items] : l.items);
    }
  }
  return out;
}

interface MacroEntry {
  fragments: Array<{ ctx: FileContext; node: Scalar }>;
  state: 'new' | 'compiling' | 'done';
  node: Node | null;
}

/** Macros compile on first use (or at the end, to report their problems), with cycle detection. */
export class MacroTable {
  private readonly entries = new Map<string, MacroEntry>();

  constructor(raws: RawFile[], private readonly scope: RuleScope, private readonly lists: Map<string, Array<number | string>>) {
    const defined = new Map<string, string>();
    for (const f of raws) {
      for (const m of f.macros) {
        const prev = defined.get(m.name);
        const frag = m.condition ? [{ ctx: m.ctx, node: m.condition }] : [];
        if (m.mode === null) {
          if (prev) m.ctx.node(m.nameNode, `duplicate macro '${m.name}' (first at ${prev}; to change it use override: {condition: append|replace})`);
          else {
            defined.set(m.name, where(m.ctx, m.nameNode));
            this.entries.set(m.name, { fragments: frag, state: 'new', node: null });
          }
        } else if (!prev) m.ctx.node(m.nameNode, `override of unknown macro '${m.name}'`);
        else {
          const e = this.entries.get(m.name) as MacroEntry;
          e.fragments = m.mode === 'append' ? [...e.fragments, ...frag] : frag;
        }
      }
    }
  }

  conditionScope(extra: Partial<ConditionScope> = {}): ConditionScope {
    return { concepts: this.scope.concepts, features: this.scope.features, lists: this.lists, macro: (name, pos) => this.resolve(name, pos), ...extra };
  }

  private resolve(name: string, pos: SourcePos): Node | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.state === 'compiling') throw new ConditionError(`macro '${name}' refers to itself`, pos);
    if (e.state === 'new') {
      e.state = 'compiling';
      const parts = e.fragments.map((f) => f.ctx.compile(f.node, (s) => parseCondition(s, this.conditionScope())));
      e.node = parts.some((p) => p === null) ? null : andAll(parts as Node[]);
      e.state = 'done';
    }
    // A macro with its own problem (already reported) stands in as `false` for its users.
    return e.node ?? { kind: 'literal', type: 'boolean', value: false, pos };
  }

  compileAll(): void {
    for (const name of this.entries.keys()) this.resolve(name, NO_POS);
  }
}

export function andAll(nodes: Node[]): Node {
  return nodes.reduce((l, r) => ({ kind: 'logic', op: 'and', left: l, right: r, pos: r.pos }));
}

/** Alternatives (exception tuples): true when any holds. */
export function orAll(nodes: Node[]): Node {
  return nodes.reduce((l, r) => ({ kind: 'logic', op: 'or', left: l, right: r, pos: NO_POS }));
}


export interface Contribution {
  ctx: FileContext;
  node: YamlNode;
}

export interface MergedRule {
  def: RawRule;
  fields: Map<string, Contribution[]>;
}

export function mergeRules(raws: RawFile[]): MergedRule[] {
  const byName = new Map<string, MergedRule>();
  for (const f of raws) {
    for (const r of f.rules) {
      const prev = byName.get(r.name);
      if (!r.override) {
        if (prev) {
          r.ctx.node(r.nameNode, `duplicate rule name '${r.name}' (first at ${where(prev.def.ctx, prev.def.nameNode)}; to change it use override)`);
          continue;
        }
        const fields = new Map<string, Contribution[]>();
        for (const [k, node] of r.fields) fields.set(k, [{ ctx: r.ctx, node }]);
        byName.set(r.name, { def: r, fields });
        continue;
      }
      if (!prev) {
        r.ctx.node(r.nameNode, `override of unknown rule '${r.name}' (rules load in file-name order; the rule must be defined in an earlier file)`);
        continue;
      }
      for (const [k, how] of r.override) {
        const c = { ctx: r.ctx, node: r.fields.get(k) as YamlNode };
        prev.fields.set(k, how === 'append' ? [...(prev.fields.get(k) ?? []), c] : [c]);
      }
    }
  }
  return [...byName.values()];
}
