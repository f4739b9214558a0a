/**
 * Label matchers in Alertmanager's syntax: `name="value"`, `name!="value"`, `name=~"regex"`,
 * `name!~"regex"` (the value may also be unquoted). Regular expressions are anchored at both ends,
 * as Alertmanager anchors them. Pure.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled, anchored; only for =~ and !~. */
  re?: RegExp;
}

/** A problem in a matcher, at `offset` characters into its text. */
export class MatcherError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function compile(value: string, at: number): RegExp {
  try {
    return new RegExp(`^(?:${value})$`, 'u');
  } catch (e) {
    throw new MatcherError(`invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`, at);
  }
}

export function makeMatcher(name: string, op: MatchOp, value: string, valueOffset = 0): Matcher {
  return op === '=~' || op === '!~' ? { name, op, value, re: compile(value, valueOffset) } : { name, op, value };
}

/** Parses one matcher (`severity="critical"`, `rule=~"Harmful.*"`). */
export function parseMatcher(text: string): Matcher {
  let i = 0;
  const skip = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  skip();
  const m = LABEL_NAME.exec(text.slice(i));
  if (!m) throw new MatcherError('expected a label name', i);
  const name = m[0];
  i += name.length;
  skip();
  const op = (['=~', '!~', '!=', '='] as const).find((o) => text.startsWith(o, i));
  if (!op) throw new MatcherError(`expected one of =, !=, =~, !~ after '${name}'`, i);
  i += op.length;
  skip();
  let value: string;
  const valueAt = i;
  if (text[i] === '"') {
    let out = '';
    let j = i + 1;
    for (;;) {
      if (j >= text.length) throw new MatcherError('unterminated quoted value', i);
      const c = text[j];
      if (c === '"') break;
      if (c === '\\') {
        const n = text[j + 1];
        if (n === undefined) throw new MatcherError('unterminated quoted value', i);
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        j += 2;
        continue;
      }
      out += c;
      j++;
    }
    value = out;
    i = j + 1;
  } else {
    const end = text.slice(i).search(/\s*$/);
    value = text.slice(i, i + end);
    if (/["]/.test(value)) throw new MatcherError('a value with a quote must be fully quoted', i);
    i += end;
  }
  skip();
  if (i < text.length) throw new MatcherError(`unexpected '${text.slice(i)}' after the value`, i);
  return makeMatcher(name, op, value, valueAt);
}

export function matches(m: Matcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? ''; // a missing label matches as the empty string, as in Alertmanager
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return (m.re as RegExp).test(v);
    case '!~':
      return !(m.re as RegExp).test(v);
  }
}

export function matchesAll(ms: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  return ms.every((m) => matches(m, labels));
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}
