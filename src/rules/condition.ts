/**
 * The rule condition language (probewatch/v1), parsed by the project: no eval, no SQL text.
 *
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | cmp
 *   cmp     := primary (("==" | "!=" | ">" | ">=" | "<" | "<=") primary | "in" list | "contains" primary)?
 *   primary := NUMBER | STRING | "true" | "false" | path | "(" expr ")"
 *   list    := "[" (literal ("," literal)*)? "]"
 *   path    := concept.<id>.(score|flagged|threshold) | feature[<int>] | event.(id|tenant|source|model|text)
 *            | event.metadata.<key>
 *
 * Every error carries the 1-based line/column inside the condition text, so the rule loader can
 * report `file:line:col: message`. Types are checked at compile time: number, string, boolean.
 */

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
  | { kind: 'in'; left: Node; values: Array<number | string | boolean>; pos: SourcePos };

export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'contains';

interface Token {
  t: 'num' | 'str' | 'id' | 'op' | 'eof';
  v: string;
  pos: SourcePos;
}

/** What a condition can read; the compiler checks names against it. */
export interface ConditionScope {
  concepts: readonly string[];
  features?: ReadonlySet<number>;
}

export interface EvalContext {
  concepts: Record<string, { score: number; flagged: boolean; threshold: number }>;
  features: ReadonlyMap<number, number>;
  event: { id: string; tenant: string; source: string; model: string; text: string; metadata: Record<string, unknown> };
}

const OPS = ['==', '!=', '>=', '<=', '>', '<', '(', ')', '[', ']', ',', '.'];
const EVENT_FIELDS = new Set(['id', 'tenant', 'source', 'model', 'text']);
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
    if (this.isWord('in')) {
      this.next();
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
      return this.path(t);
    }
    throw new ConditionError(`unexpected ${describe(t)}`, t.pos);
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
    throw new ConditionError(`unknown name '${head.v}' (expected concept, feature, event or a literal)`, head.pos);
  }
}

function describe(t: Token): string {
  return t.t === 'eof' ? 'end of condition' : `'${t.v}'`;
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

function read(n: Node, ctx: EvalContext): number | string | boolean {
  if (n.kind === 'literal') return n.value;
  if (n.kind !== 'path') return evaluate(n, ctx);
  const [root, a, b] = n.path;
  if (root === 'concept') {
    const c = ctx.concepts[a];
    return c ? c[b as 'score' | 'flagged' | 'threshold'] : b === 'flagged' ? false : 0;
  }
  if (root === 'feature') return ctx.features.get(Number(a)) ?? 0;
  if (a === 'metadata') {
    const v = ctx.event.metadata[b];
    return v === undefined || v === null ? '' : String(v);
  }
  return ctx.event[a as 'id' | 'tenant' | 'source' | 'model' | 'text'];
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

/** A numeric field such as `concept.harmful_intent.score` (an alert's value). */
export function parseValue(src: string, scope: ConditionScope): Node {
  return new Parser(tokenize(src), scope).parseNumber();
}

export function readNumber(n: Node, ctx: EvalContext): number {
  return read(n, ctx) as number;
}
