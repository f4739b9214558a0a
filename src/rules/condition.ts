/**
 * The rule condition language (probewatch/v1), parsed by the project: no eval, no SQL text.
 *
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | cmp
 *   cmp     := primary (("==" | "!=" | ">" | ">=" | "<" | "<=") primary | "in" list | ("contains" | "matches") primary)?
 *   primary := NUMBER | STRING | "true" | "false" | path | NAME | "(" expr ")"
 *   list    := "[" (literal ("," literal)*)? "]" | NAME                  (NAME: a list defined in a rule file)
 *   path    := concept.<id>.(score|flagged|threshold) | feature[<int>] | event.(id|tenant|source|model|user|text)
 *            | event.metadata.<key>
 *   NAME    := a macro (a named condition) or, in windowed rules, a variable (value, count)
 *
 * Every error carries the 1-based line/column inside the condition text, so the rule loader can
 * report `file:line:col: message`. Types are checked at compile time: number, string, boolean.
 * A `matches` pattern is RE2 syntax (condition-regex.ts), checked and compiled here.
 */

import type RE2 from 're2';

import { compilePattern } from './condition-regex';

export type ValueType = 'number' | 'string' | 'boolean';

export interface SourcePos {
  offset: number;
  line: number;
  col: number;
}

export class ConditionError extends Error {
  constructor(message: string, readonly pos: SourcePos) {
    super(message);
  }
}

export type Node =
  | { kind: 'literal'; type: ValueType; value: number | string | boolean; pos: SourcePos }
  | { kind: 'path'; type: ValueType; path: string[]; pos: SourcePos }
  | { kind: 'not'; expr: Node; pos: SourcePos }
  | { kind: 'logic'; op: 'and' | 'or'; left: Node; right: Node; pos: SourcePos }
  | { kind: 'compare'; op: CompareOp; left: Node; right: Node; pos: SourcePos }
  | { kind: 'in'; left: Node; values: Array<number | string | boolean>; pos: SourcePos }
  /** `re`: the pattern compiled by RE2 (linear time), case-insensitive; never a JavaScript RegExp. */
  | { kind: 'matches'; left: Node; pattern: string; re: RE2; pos: SourcePos };

export const AGGREGATES = ['count', 'rate', 'distinct_users', 'share', 'avg', 'max', 'min', 'quantile'] as const;
export type AggregateFn = (typeof AGGREGATES)[number];
/** A windowed rule's aggregate over the events of one group: `share(concept.x.flagged)`, `quantile(0.9, concept.x.score)`. */
export interface Aggregate {
  fn: AggregateFn;
  arg?: Node;
  q?: number;
  pos: SourcePos;
}

export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'contains';
export type PathNode = Extract<Node, { kind: 'path' }>;

interface Token {
  t: 'num' | 'str' | 'id' | 'op' | 'eof';
  v: string;
  pos: SourcePos;
}

/** What a condition can read; the compiler checks names against it. */
export interface ConditionScope {
  concepts: readonly string[];
  features?: ReadonlySet<number>;
  /** Named lists (`event.source in trusted_sources`). */
  lists?: ReadonlyMap<string, ReadonlyArray<number | string>>;
  /** Named conditions; the resolver compiles a macro on first use and reports cycles. */
  macro?: (name: string, pos: SourcePos) => Node | undefined;
  /** Bare variables such as `value` and `count` in windowed conditions. */
  variables?: Readonly<Record<string, ValueType>>;
}

export interface EvalContext {
  concepts: Record<string, { score: number; flagged: boolean; threshold: number }>;
  features: ReadonlyMap<number, number>;
  event: { id: string; tenant: string; source: string; model: string; user: string; text: string; metadata: Record<string, unknown> };
  vars?: Record<string, number | string | boolean>;
}

const OPS = ['==', '!=', '>=', '<=', '>', '<', '(', ')', '[', ']', ',', '.'];
const EVENT_FIELDS = new Set(['id', 'tenant', 'source', 'model', 'user', 'text']);
const CONCEPT_FIELDS: Record<string, ValueType> = { score: 'number', flagged: 'boolean', threshold: 'number' };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (): SourcePos => ({ offset: i, line, col: i - lineStart + 1 });
  while (i < src.length) {
    const ch = src[i];
    if (ch === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const p = pos();
    const num = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(src.slice(i));
    if (num && (ch !== '-' || /\d/.test(src[i + 1] ?? ''))) {
      out.push({ t: 'num', v: num[0], pos: p });
      i += num[0].length;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== ch) {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        s += src[j++];
      }
      if (j >= src.length) throw new ConditionError('unterminated string', p);
      out.push({ t: 'str', v: s, pos: p });
      i = j + 1;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0], pos: p });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ConditionError(`unexpected character '${ch}'`, p);
    out.push({ t: 'op', v: op, pos: p });
    i += op.length;
  }
  out.push({ t: 'eof', v: '', pos: pos() });
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[], private readonly scope: ConditionScope) {}

  private peek(): Token {
    return this.toks[this.i];
  }
  private next(): Token {
    return this.toks[this.i++];
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return t.t === 'id' && t.v === w;
  }
  private expectOp(v: string): Token {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new ConditionError(`expected '${v}' but found ${describe(t)}`, t.pos);
    return t;
  }

  parse(): Node {
    const e = this.or();
    const t = this.peek();
    if (t.t !== 'eof') throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
    if (typeOf(e) !== 'boolean') throw new ConditionError('a condition must be true or false (a comparison or a boolean field)', e.pos);
    return e;
  }

  parseAggregate(): Aggregate {
    const head = this.ident();
    const fn = head.v as AggregateFn;
    if (!(AGGREGATES as readonly string[]).includes(fn)) throw new ConditionError(`unknown aggregate '${head.v}' (${AGGREGATES.join(', ')})`, head.pos);
    this.expectOp('(');
    let agg: Aggregate = { fn, pos: head.pos };
    if (fn === 'share') {
      const e = this.or();
      agg = { fn, arg: this.boolean(e), pos: head.pos };
    } else if (fn === 'avg' || fn === 'max' || fn === 'min' || fn === 'quantile') {
      let q: number | undefined;
      if (fn === 'quantile') {
        const n = this.next();
        q = Number(n.v);
        if (n.t !== 'num' || !(q > 0 && q < 1)) throw new ConditionError('quantile(q, x) needs 0 < q < 1', n.pos);
        this.expectOp(',');
      }
      const arg = this.primary();
      if (typeOf(arg) !== 'number') throw new ConditionError(`${fn}() needs a number, found a ${typeOf(arg)}`, arg.pos);
      agg = { fn, arg, q, pos: head.pos };
    }
    this.expectOp(')');
    const t = this.peek();
    if (t.t !== 'eof') throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
    return agg;
  }

  parseField(): Node {
    const n = this.primary();
    const t = this.peek();
    if (t.t !== 'eof') throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
    return n;
  }

  parseNumber(): Node {
    const n = this.primary();
    const t = this.peek();
    if (t.t !== 'eof') throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
    if (typeOf(n) !== 'number') throw new ConditionError(`value must be a number, found a ${typeOf(n)}`, n.pos);
    return n;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('or')) {
      const op = this.next();
      left = { kind: 'logic', op: 'or', left: this.boolean(left), right: this.boolean(this.and()), pos: op.pos };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord('and')) {
      const op = this.next();
      left = { kind: 'logic', op: 'and', left: this.boolean(left), right: this.boolean(this.not()), pos: op.pos };
    }
    return left;
  }

  private not(): Node {
    if (this.isWord('not')) {
      const t = this.next();
      return { kind: 'not', expr: this.boolean(this.not()), pos: t.pos };
    }
    return this.cmp();
  }

  private boolean(n: Node): Node {
    if (typeOf(n) !== 'boolean') throw new ConditionError(`expected a true/false expression, found a ${typeOf(n)}`, n.pos);
    return n;
  }

  private cmp(): Node {
    const left = this.primary();
    const t = this.peek();
    if (t.t === 'op' && ['==', '!=', '>', '>=', '<', '<='].includes(t.v)) {
      this.next();
      const right = this.primary();
      const op = t.v as CompareOp;
      const lt = typeOf(left);
      const rt = typeOf(right);
      if (lt !== rt) throw new ConditionError(`cannot compare a ${lt} with a ${rt}`, t.pos);
      if (op !== '==' && op !== '!=' && lt !== 'number') throw new ConditionError(`'${op}' needs numbers, found ${lt}s`, t.pos);
      return { kind: 'compare', op, left, right, pos: t.pos };
    }
    if (this.isWord('contains')) {
      this.next();
      const right = this.primary();
      if (typeOf(left) !== 'string' || typeOf(right) !== 'string') throw new ConditionError("'contains' needs two strings", t.pos);
      return { kind: 'compare', op: 'contains', left, right, pos: t.pos };
    }
    if (this.isWord('matches')) {
      this.next();
      const right = this.primary();
      if (typeOf(left) !== 'string' || right.kind !== 'literal' || right.type !== 'string') throw new ConditionError("'matches' needs a string and a literal regular expression", t.pos);
      // Checked here, so that event rules (the stream) and windowed or sequence rules (SQL) get the
      // same RE2 checks, reported at the pattern literal.
      const compiled = compilePattern(String(right.value));
      if (!compiled.ok) throw new ConditionError(compiled.message, right.pos);
      return { kind: 'matches', left, pattern: String(right.value), re: compiled.re, pos: t.pos };
    }
    if (this.isWord('in')) {
      this.next();
      if (this.peek().t === 'id') {
        const name = this.next();
        const items = this.scope.lists?.get(name.v);
        if (!items) throw new ConditionError(`unknown list '${name.v}'`, name.pos);
        for (const v of items) {
          if (typeof v !== typeOf(left)) throw new ConditionError(`list '${name.v}' holds a ${typeof v}, expected ${typeOf(left)}`, name.pos);
        }
        return { kind: 'in', left, values: [...items], pos: t.pos };
      }
      this.expectOp('[');
      const values: Array<number | string | boolean> = [];
      while (!(this.peek().t === 'op' && this.peek().v === ']')) {
        const lit = this.primary();
        if (lit.kind !== 'literal') throw new ConditionError('lists hold literal values only', lit.pos);
        if (lit.type !== typeOf(left)) throw new ConditionError(`list value is a ${lit.type}, expected ${typeOf(left)}`, lit.pos);
        values.push(lit.value);
        if (this.peek().t === 'op' && this.peek().v === ',') this.next();
        else break;
      }
      this.expectOp(']');
      return { kind: 'in', left, values, pos: t.pos };
    }
    return left;
  }

  private primary(): Node {
    const t = this.next();
    if (t.t === 'num') return { kind: 'literal', type: 'number', value: Number(t.v), pos: t.pos };
    if (t.t === 'str') return { kind: 'literal', type: 'string', value: t.v, pos: t.pos };
    if (t.t === 'op' && t.v === '(') {
      const e = this.or();
      this.expectOp(')');
      return e;
    }
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { kind: 'literal', type: 'boolean', value: t.v === 'true', pos: t.pos };
      if (['concept', 'feature', 'event'].includes(t.v)) return this.path(t);
      return this.name(t);
    }
    throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
  }

  private name(t: Token): Node {
    const varType = this.scope.variables?.[t.v];
    if (varType) return { kind: 'path', type: varType, path: ['var', t.v], pos: t.pos };
    const m = this.scope.macro?.(t.v, t.pos);
    if (m) return m;
    const vars = Object.keys(this.scope.variables ?? {});
    throw new ConditionError(`unknown macro '${t.v}' (expected concept, feature, event${vars.length ? `, ${vars.join(', ')}` : ''}, a macro or a literal)`, t.pos);
  }

  private ident(): Token {
    const t = this.next();
    if (t.t !== 'id') throw new ConditionError(`expected a name but found ${describe(t)}`, t.pos);
    return t;
  }

  private path(head: Token): Node {
    if (head.v === 'concept') {
      this.expectOp('.');
      const c = this.ident();
      if (!this.scope.concepts.includes(c.v)) throw new ConditionError(`unknown concept '${c.v}' (known: ${this.scope.concepts.join(', ')})`, c.pos);
      this.expectOp('.');
      const f = this.ident();
      const type = CONCEPT_FIELDS[f.v];
      if (!type) throw new ConditionError(`unknown concept field '${f.v}' (score, flagged, threshold)`, f.pos);
      return { kind: 'path', type, path: ['concept', c.v, f.v], pos: head.pos };
    }
    if (head.v === 'feature') {
      this.expectOp('[');
      const n = this.next();
      if (n.t !== 'num' || !/^\d+$/.test(n.v)) throw new ConditionError('feature[...] needs a feature index', n.pos);
      if (this.scope.features && !this.scope.features.has(Number(n.v))) throw new ConditionError(`feature ${n.v} is not in the probe pack`, n.pos);
      this.expectOp(']');
      return { kind: 'path', type: 'number', path: ['feature', n.v], pos: head.pos };
    }
    if (head.v === 'event') {
      this.expectOp('.');
      const f = this.ident();
      if (f.v === 'metadata') {
        this.expectOp('.');
        const k = this.ident();
        return { kind: 'path', type: 'string', path: ['event', 'metadata', k.v], pos: head.pos };
      }
      if (!EVENT_FIELDS.has(f.v)) throw new ConditionError(`unknown event field '${f.v}' (${[...EVENT_FIELDS].join(', ')}, metadata.<key>)`, f.pos);
      return { kind: 'path', type: 'string', path: ['event', f.v], pos: head.pos };
    }
    throw new ConditionError(`unknown name '${head.v}'`, head.pos);
  }
}

function describe(t: Token): string {
  return t.t === 'eof' ? 'end of condition' : `'${t.v}'`;
}

/** Every field a condition reads, in reading order (the walker the checks and the SQL builder share). */
export function pathsOf(n: Node, out: PathNode[] = []): PathNode[] {
  switch (n.kind) {
    case 'path':
      out.push(n);
      break;
    case 'literal':
      break;
    case 'not':
      pathsOf(n.expr, out);
      break;
    case 'logic':
    case 'compare':
      pathsOf(n.left, out);
      pathsOf(n.right, out);
      break;
    case 'in':
    case 'matches':
      pathsOf(n.left, out);
      break;
  }
  return out;
}

export function typeOf(n: Node): ValueType {
  switch (n.kind) {
    case 'literal':
    case 'path':
      return n.type;
    default:
      return 'boolean';
  }
}

export function parseCondition(src: string, scope: ConditionScope): Node {
  return new Parser(tokenize(src), scope).parse();
}

/** A single operand such as `event.user` (exception fields). */
export function parseField(src: string, scope: ConditionScope): Node {
  return new Parser(tokenize(src), scope).parseField();
}

export function parseAggregate(src: string, scope: ConditionScope): Aggregate {
  return new Parser(tokenize(src), scope).parseAggregate();
}

/** A numeric field such as `concept.harmful_intent.score` (an alert's value). */
export function parseValue(src: string, scope: ConditionScope): Node {
  return new Parser(tokenize(src), scope).parseNumber();
}
