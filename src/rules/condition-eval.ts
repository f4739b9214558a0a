/**
 * Evaluating parsed conditions: `evaluate` walks the tree (the reference semantics, and what
 * `rules test` compares against); `predicate` compiles a condition to closures once, when the
 * rules load, which is what the stream runs. The tests hold the two to the same answers.
 */
import type { CompareOp, EvalContext, Node } from './condition';

function read(n: Node, ctx: EvalContext): number | string | boolean {
  if (n.kind === 'literal') return n.value;
  if (n.kind !== 'path') return evaluate(n, ctx);
  const [root, a, b] = n.path;
  if (root === 'concept') {
    const c = ctx.concepts[a];
    return c ? c[b as 'score' | 'flagged' | 'threshold'] : b === 'flagged' ? false : 0;
  }
  if (root === 'feature') return ctx.features.get(Number(a)) ?? 0;
  if (root === 'var') return ctx.vars?.[a] ?? 0;
  if (a === 'metadata') {
    const v = ctx.event.metadata[b];
    return v === undefined || v === null ? '' : String(v);
  }
  return ctx.event[a as 'id' | 'tenant' | 'source' | 'model' | 'user' | 'text'];
}

export function evaluate(n: Node, ctx: EvalContext): boolean {
  switch (n.kind) {
    case 'literal':
    case 'path':
      return read(n, ctx) === true;
    case 'not':
      return !evaluate(n.expr, ctx);
    case 'logic':
      return n.op === 'and' ? evaluate(n.left, ctx) && evaluate(n.right, ctx) : evaluate(n.left, ctx) || evaluate(n.right, ctx);
    case 'in':
      return n.values.includes(read(n.left, ctx));
    case 'matches':
      return n.re.test(read(n.left, ctx) as string);
    case 'compare': {
      const l = read(n.left, ctx);
      const r = read(n.right, ctx);
      switch (n.op) {
        case '==': return l === r;
        case '!=': return l !== r;
        case '>': return (l as number) > (r as number);
        case '>=': return (l as number) >= (r as number);
        case '<': return (l as number) < (r as number);
        case '<=': return (l as number) <= (r as number);
        case 'contains': return (l as string).toLowerCase().includes((r as string).toLowerCase());
      }
    }
  }
  return false;
}

export function readNumber(n: Node, ctx: EvalContext): number {
  return read(n, ctx) as number;
}

export type Predicate = (ctx: EvalContext) => boolean;
type Getter = (ctx: EvalContext) => number | string | boolean;

/** A field read as a closure, resolved once (not per event). */
function getter(n: Node): Getter {
  if (n.kind === 'literal') {
    const v = n.value;
    return () => v;
  }
  if (n.kind !== 'path') return predicate(n);
  const [root, a, b] = n.path;
  if (root === 'concept') {
    if (b === 'flagged') return (ctx) => ctx.concepts[a]?.flagged ?? false;
    if (b === 'score') return (ctx) => ctx.concepts[a]?.score ?? 0;
    return (ctx) => ctx.concepts[a]?.threshold ?? 0;
  }
  if (root === 'feature') {
    const index = Number(a);
    return (ctx) => ctx.features.get(index) ?? 0;
  }
  if (root === 'var') return (ctx) => ctx.vars?.[a] ?? 0;
  if (a === 'metadata') {
    return (ctx) => {
      const v = ctx.event.metadata[b];
      return v === undefined || v === null ? '' : String(v);
    };
  }
  const field = a as 'id' | 'tenant' | 'source' | 'model' | 'user' | 'text';
  return (ctx) => ctx.event[field];
}

/** `concept.<c>.score <op> number`: the most common comparison, read without an extra closure. */
function scoreComparison(op: CompareOp, concept: string, field: 'score' | 'threshold', v: number): Predicate | null {
  const read = (ctx: EvalContext): number => {
    const c = ctx.concepts[concept];
    return c === undefined ? 0 : c[field];
  };
  switch (op) {
    case '>': return (ctx) => read(ctx) > v;
    case '>=': return (ctx) => read(ctx) >= v;
    case '<': return (ctx) => read(ctx) < v;
    case '<=': return (ctx) => read(ctx) <= v;
    default: return null;
  }
}

function comparison(op: CompareOp, left: Node, right: Node): Predicate {
  if (left.kind === 'path' && left.path[0] === 'concept' && left.path[2] !== 'flagged' && right.kind === 'literal' && typeof right.value === 'number') {
    const p = scoreComparison(op, left.path[1], left.path[2] as 'score' | 'threshold', right.value);
    if (p) return p;
  }
  const l = getter(left);
  // A literal right-hand side (the common case) is read once, here.
  if (right.kind === 'literal') {
    const v = right.value;
    switch (op) {
      case '==': return (ctx) => l(ctx) === v;
      case '!=': return (ctx) => l(ctx) !== v;
      case '>': return (ctx) => (l(ctx) as number) > (v as number);
      case '>=': return (ctx) => (l(ctx) as number) >= (v as number);
      case '<': return (ctx) => (l(ctx) as number) < (v as number);
      case '<=': return (ctx) => (l(ctx) as number) <= (v as number);
      case 'contains': {
        const needle = String(v).toLowerCase();
        return (ctx) => (l(ctx) as string).toLowerCase().includes(needle);
      }
    }
  }
  const r = getter(right);
  switch (op) {
    case '==': return (ctx) => l(ctx) === r(ctx);
    case '!=': return (ctx) => l(ctx) !== r(ctx);
    case '>': return (ctx) => (l(ctx) as number) > (r(ctx) as number);
    case '>=': return (ctx) => (l(ctx) as number) >= (r(ctx) as number);
    case '<': return (ctx) => (l(ctx) as number) < (r(ctx) as number);
    case '<=': return (ctx) => (l(ctx) as number) <= (r(ctx) as number);
    case 'contains': return (ctx) => (l(ctx) as string).toLowerCase().includes((r(ctx) as string).toLowerCase());
  }
}

/**
 * A condition compiled to a predicate: closures built once when the rules load, so evaluating an
 * event walks no syntax tree. Same semantics as `evaluate` (the tests hold both to it).
 */
export function predicate(n: Node): Predicate {
  switch (n.kind) {
    case 'literal': {
      const v = n.value === true;
      return () => v;
    }
    case 'path': {
      const g = getter(n);
      return (ctx) => g(ctx) === true;
    }
    case 'not': {
      const p = predicate(n.expr);
      return (ctx) => !p(ctx);
    }
    case 'logic': {
      const l = predicate(n.left);
      const r = predicate(n.right);
      return n.op === 'and' ? (ctx) => l(ctx) && r(ctx) : (ctx) => l(ctx) || r(ctx);
    }
    case 'in': {
      const g = getter(n.left);
      const values = new Set(n.values);
      return (ctx) => values.has(g(ctx));
    }
    case 'matches': {
      const g = getter(n.left);
      const re = n.re;
      return (ctx) => re.test(g(ctx) as string);
    }
    case 'compare':
      return comparison(n.op, n.left, n.right);
  }
}

/** A numeric field compiled to a closure (an event rule's value). */
export function numberGetter(n: Node): (ctx: EvalContext) => number {
  const g = getter(n);
  return (ctx) => g(ctx) as number;
}
