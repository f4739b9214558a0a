/**
 * `matches` patterns: RE2 syntax, run in linear time. The stream runs them with the `re2` package;
 * windowed and sequence rules run them in ClickHouse's match(), which is RE2 as well. A rule's
 * pattern never reaches JavaScript's backtracking RegExp: there, `^(a+)+$` on a 29-character text
 * held the event loop for 13.7 s.
 *
 * What RE2 cannot run (backreferences, lookaround, possessive quantifiers, atomic groups, …) is
 * rejected when the rules load, with the construct named. The `re2` package also translates a few
 * JavaScript spellings (\u0041, \cA, \p{Letter}) that ClickHouse's RE2 refuses; those are rejected
 * too, so that one pattern means the same thing in both engines.
 */
import RE2 from 're2';

export type PatternResult = { ok: true; re: RE2 } | { ok: false; message: string };

const WHY = "'matches' uses RE2 syntax, which runs in linear time";

/** Long Unicode category names that the `re2` package rewrites but RE2 itself does not know. */
const LONG_CATEGORIES: Record<string, string> = {
  Letter: 'L', Cased_Letter: 'LC', Uppercase_Letter: 'Lu', Lowercase_Letter: 'Ll', Titlecase_Letter: 'Lt', Modifier_Letter: 'Lm', Other_Letter: 'Lo',
  Mark: 'M', Nonspacing_Mark: 'Mn', Spacing_Mark: 'Mc', Enclosing_Mark: 'Me',
  Number: 'N', Decimal_Number: 'Nd', Letter_Number: 'Nl', Other_Number: 'No',
  Punctuation: 'P', Connector_Punctuation: 'Pc', Dash_Punctuation: 'Pd', Open_Punctuation: 'Ps', Close_Punctuation: 'Pe',
  Initial_Punctuation: 'Pi', Final_Punctuation: 'Pf', Other_Punctuation: 'Po',
  Symbol: 'S', Math_Symbol: 'Sm', Currency_Symbol: 'Sc', Modifier_Symbol: 'Sk', Other_Symbol: 'So',
  Separator: 'Z', Space_Separator: 'Zs', Line_Separator: 'Zl', Paragraph_Separator: 'Zp',
  Other: 'C', Control: 'Cc', Format: 'Cf', Surrogate: 'Cs', Private_Use: 'Co', Unassigned: 'Cn',
};

const QUANTIFIER = /^(?:[*+?]|\{\d+(?:,\d*)?\})/;

/** An escape (`p[i]` is the backslash) that RE2 cannot run or that means something else there. */
function badEscape(p: string, i: number): string | null {
  const n = p[i + 1] ?? '';
  if (/[1-9]/.test(n)) {
    const ref = /^\d+/.exec(p.slice(i + 1))?.[0] ?? n;
    return `backreference '\\${ref}' is not supported: ${WHY}, without backreferences (for a character code write \\x{hh})`;
  }
  if (n === 'k' && p[i + 2] === '<') return `named backreference '\\k<' is not supported: ${WHY}, without backreferences`;
  if (n === 'u') {
    const hex = p[i + 2] === '{' ? /^\{([0-9A-Fa-f]+)\}/.exec(p.slice(i + 2))?.[1] : /^[0-9A-Fa-f]{1,4}/.exec(p.slice(i + 2))?.[0];
    return `'\\u' is JavaScript syntax, not RE2: write \\x{${hex ?? 'hhhh'}}`;
  }
  if (n === 'c' && /[A-Za-z]/.test(p[i + 2] ?? '')) {
    const code = (p[i + 2].toUpperCase().charCodeAt(0) - 64).toString(16).padStart(2, '0');
    return `'\\c${p[i + 2]}' is JavaScript syntax, not RE2: write \\x${code}`;
  }
  if ((n === 'p' || n === 'P') && p[i + 2] === '{') {
    const name = /^\{\^?([A-Za-z_]+)\}/.exec(p.slice(i + 2))?.[1] ?? '';
    const short = LONG_CATEGORIES[name];
    if (short) return `'\\${n}{${name}}' is not RE2 syntax: write \\${n}{${short}}`;
  }
  return null;
}

/** A group opener (`p[i]` is '(' and `p[i + 1]` is '?') that RE2 cannot run. */
function badGroup(p: string, i: number): string | null {
  const rest = p.slice(i + 2);
  if (rest.startsWith('=') || rest.startsWith('!')) return `lookahead '(?${rest[0]}' is not supported: ${WHY}, without lookaround`;
  if (rest.startsWith('<=') || rest.startsWith('<!')) return `lookbehind '(?${rest.slice(0, 2)}' is not supported: ${WHY}, without lookaround`;
  if (rest.startsWith('>')) return `atomic group '(?>' is not supported: ${WHY} and never backtracks, so write '(?:'`;
  if (rest.startsWith('(')) return `conditional '(?(' is not supported: ${WHY}`;
  const call = /^(?:R|[+-]?\d+|&\w*|P>\w*)/.exec(rest)?.[0];
  if (call) return `recursion '(?${call}' is not supported: ${WHY}`;
  return null;
}

/**
 * The first construct of a pattern that RE2 cannot run, explained; null when there is none (RE2's
 * own parser still has the last word, for plain syntax errors).
 */
export function unsupportedConstruct(p: string): string | null {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const bad = badEscape(p, i);
      if (bad) return bad;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A ']' right after '[' or '[^' is a literal in RE2.
      if (p[i + 1] === '^') i++;
      if (p[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && p[i + 1] === '?') {
      const bad = badGroup(p, i);
      if (bad) return bad;
      i++;
      continue;
    }
    const q = QUANTIFIER.exec(p.slice(i))?.[0];
    if (q) {
      if (p[i + q.length] === '+') return `possessive quantifier '${q}+' is not supported: ${WHY} and never backtracks, so write '${q}'`;
      // A lazy '?' belongs to the quantifier (RE2 has lazy quantifiers).
      i += q.length - (p[i + q.length] === '?' ? 0 : 1);
    }
  }
  return null;
}

/** A pattern compiled for the stream, case-insensitive (as `(?i)` in ClickHouse), or why not. */
export function compilePattern(pattern: string): PatternResult {
  const bad = unsupportedConstruct(pattern);
  if (bad) return { ok: false, message: bad };
  try {
    // 'u': RE2 always reads text as Unicode; saying so keeps the package from warning.
    return { ok: true, re: new RE2(pattern, 'iu') };
  } catch (e) {
    return { ok: false, message: `invalid regular expression (RE2 syntax): ${(e as Error).message}` };
  }
}
