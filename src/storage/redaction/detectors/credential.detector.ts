/**
 * Credentials that no maintained scanner reports reliably: values of password/secret/api-key
 * assignments in env, INI, YAML, JSON and query-string form, Authorization header values,
 * credentials in URLs, and AWS keys (secretlint deliberately skips AWS's documented example
 * keys, which our fixtures use, and only knows the secret after `AWS_SECRET_ACCESS_KEY`).
 *
 * Every pattern is anchored on a literal keyword and uses bounded repetition, so a failed start
 * costs a few hundred steps at most whatever the input.
 */
import type { SensitiveKind, SensitiveSpan } from '../sensitive-span';

const PASSWORD_WORD = '(?:password|passwd|passphrase|pwd)';
const SECRET_WORD = '(?:secret|api[_-]?key|apikey|(?:access|auth|api|refresh|id|session|bearer|secret)[_-]?token|private[_-]?key|credentials?)';
// keyword, up to 32 more name characters (DB_PASSWORD_PROD, SECRET_ACCESS_KEY), an optional
// closing quote (JSON), a separator, then a quoted or bare value. Only the value is masked.
const ASSIGNMENT = new RegExp(
  `(${PASSWORD_WORD}|${SECRET_WORD})[A-Za-z0-9_-]{0,32}["']?[ \\t]{0,8}(?::|=>|=)[ \\t]{0,8}` +
    `(?:"([^"\\r\\n]{1,512})"|'([^'\\r\\n]{1,512})'|([^\\s"',;}\\]]{1,512}))`,
  'gi',
);
const IS_PASSWORD_WORD = new RegExp(`^${PASSWORD_WORD}$`, 'i');
const AUTH_HEADER = /\b(?:bearer|basic|token)[ \t]{1,4}([A-Za-z0-9._~+/-]{8,4096}=*)/gi;
const AWS_KEY_ID = /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}\b/g;
const BASE64_40 = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const AWS_CONTEXT = /aws|secret/i;
const AWS_CONTEXT_CHARS = 100;
const MAX_USERINFO = 256;

/** Random-looking: a digit or punctuation, or upper case after the first letter. Not a word. */
export function looksLikeToken(value: string): boolean {
  return value.length >= 8 && (/[\d+/=_.-]/.test(value) || (/[A-Z]/.test(value.slice(1)) && /[a-z]/.test(value)));
}

function findAssignments(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(ASSIGNMENT)) {
    const isPassword = IS_PASSWORD_WORD.test(m[1]);
    const value = m[2] ?? m[3] ?? m[4];
    // Passwords can be plain words; a "secret: ..." in prose usually is not a credential.
    if (!isPassword && !looksLikeToken(value)) continue;
    const end = (m.index as number) + m[0].length - (m[4] === undefined ? 1 : 0);
    const kind: SensitiveKind = isPassword ? 'PASSWORD' : 'SECRET';
    out.push({ start: end - value.length, end, kind });
  }
}

function findAuthHeaders(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(AUTH_HEADER)) {
    if (!looksLikeToken(m[1])) continue;
    const end = (m.index as number) + m[0].length;
    out.push({ start: end - m[1].length, end, kind: 'SECRET' });
  }
}

function findAwsKeys(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(AWS_KEY_ID)) out.push({ start: m.index as number, end: (m.index as number) + m[0].length, kind: 'SECRET' });
  for (const m of text.matchAll(BASE64_40)) {
    const start = m.index as number;
    // A 40-character hex string is a git or SHA-1 digest, not a key; a key is mixed-case base64.
    if (/^[0-9a-f]+$/i.test(m[0]) || !/[A-Z]/.test(m[0]) || !/[a-z]/.test(m[0])) continue;
    if (AWS_CONTEXT.test(text.slice(Math.max(0, start - AWS_CONTEXT_CHARS), start))) out.push({ start, end: start + 40, kind: 'SECRET' });
  }
}

/**
 * The user:password part of scheme://user:password@host. secretlint knows http(s) and the major
 * databases; this also covers redis, amqp, smtp... and an empty user ("redis://:pw@host").
 */
function findUrlCredentials(text: string, out: SensitiveSpan[]): void {
  for (let at = text.indexOf('://'); at >= 0; at = text.indexOf('://', at + 3)) {
    const start = at + 3;
    let end = start;
    let colon = -1;
    while (end < text.length && end - start < MAX_USERINFO && !/[\s/@?#]/.test(text[end])) {
      if (text[end] === ':' && colon < 0) colon = end;
      end++;
    }
    if (colon >= 0 && colon + 1 < end && text[end] === '@') out.push({ start, end, kind: 'SECRET' });
  }
}

export function findCredentials(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  findUrlCredentials(text, out);
  findAssignments(text, out);
  findAuthHeaders(text, out);
  findAwsKeys(text, out);
  return out;
}
