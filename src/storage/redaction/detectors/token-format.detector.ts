/**
 * Secrets recognisable by their shape: JWTs, PEM private keys, and API tokens with a vendor
 * prefix. secretlint (see redaction-worker.ts) knows the exact formats of many vendors, but it
 * requires checksums and markers that keys pasted from documentation, truncated keys and test
 * keys lack; this is the net under it, and the only key detector on the synchronous path
 * (findLocalSpans).
 *
 * JWTs and PEM blocks are found with indexOf on their fixed opening and a forward scan, never
 * a regex with an unbounded repetition, so the cost is linear in the text.
 */
import type { SensitiveSpan } from '../sensitive-span';

const MAX_JWT = 16_384;
const MIN_JWT_PART = 8;
const PEM_HEADER = /^-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/;
const PEM_END = '-----END';
const BODY_CHUNK = /\s*([A-Za-z0-9+/=]+)/y;
const MIN_BODY_CHUNK = 16;
// Vendor prefixes (OpenAI, Anthropic, Stripe, GitHub, Slack, GitLab, Hugging Face, npm, Google,
// Shopify, SendGrid), then 16-512 token characters. Bounded, anchored on the prefix.
const PREFIXED = /(?<![A-Za-z0-9_-])(?:sk-ant-|sk-(?:proj-|svcacct-|admin-)?|sk_(?:live|test)_|rk_(?:live|test)_|pk_(?:live|test)_|whsec_|gh[pousr]_|github_pat_|xox[abposr]-|glpat-|hf_|npm_|AIza|ya29\.|shpat_|SG\.)([A-Za-z0-9_.-]{16,512})/g;

function isJwtChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}

function findJwts(text: string, out: SensitiveSpan[]): void {
  for (let at = text.indexOf('eyJ'); at >= 0; at = text.indexOf('eyJ', at + 3)) {
    // A JWT starts a token; "eyJ" inside a longer token is base64 of something else. This also
    // keeps the scan linear: only one expansion per run of token characters.
    if (at > 0 && isJwtChar(text.charCodeAt(at - 1))) continue;
    let end = at;
    while (end < text.length && end - at < MAX_JWT && isJwtChar(text.charCodeAt(end))) end++;
    while (end > at && text[end - 1] === '.') end--;
    const parts = text.slice(at, end).split('.');
    // header.payload.signature (JWS) or five parts (JWE); an unsigned JWT has an empty signature.
    if (parts.length >= 2 && parts.length <= 5 && parts[0].length >= MIN_JWT_PART && parts[1].length >= MIN_JWT_PART) {
      out.push({ start: at, end, kind: 'JWT' });
      at = end - 3;
    }
  }
}

function findPemKeys(text: string, out: SensitiveSpan[]): void {
  // One search for the next END marker serves every BEGIN before it; without the cache, many
  // BEGINs and no END would rescan the rest of the text once each.
  let endMarker = -2;
  for (let at = text.indexOf('-----BEGIN'); at >= 0; at = text.indexOf('-----BEGIN', at + 10)) {
    const header = text.slice(at, at + 80).match(PEM_HEADER);
    if (!header) continue;
    if (endMarker !== -1 && endMarker < at) endMarker = text.indexOf(PEM_END, at);
    let end: number;
    if (endMarker >= 0) {
      const close = text.indexOf('-----', endMarker + PEM_END.length);
      end = close >= 0 ? close + 5 : text.length;
    } else {
      end = truncatedBodyEnd(text, at + header[0].length);
    }
    out.push({ start: at, end, kind: 'PRIVATE_KEY' });
    at = end - 10;
  }
}

/**
 * A key cut off before its END line: its body is whitespace-separated base64 chunks (64-char
 * lines); the first short chunk that is not the padded last line is where prose resumes.
 */
function truncatedBodyEnd(text: string, from: number): number {
  let end = from;
  for (;;) {
    BODY_CHUNK.lastIndex = end;
    const m = BODY_CHUNK.exec(text);
    if (!m || (m[1].length < MIN_BODY_CHUNK && !m[1].endsWith('='))) return end;
    end = BODY_CHUNK.lastIndex;
  }
}

/**
 * Tokens are random; a hyphenated phrase that happens to start like one ("sk-learn-compatible-
 * estimator") is not: without a digit, a body split by separators is taken for words.
 */
function isRandomBody(body: string): boolean {
  return /\d/.test(body) || !/[_.-]/.test(body);
}

function findPrefixedTokens(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(PREFIXED)) {
    if (!isRandomBody(m[1])) continue;
    out.push({ start: m.index as number, end: (m.index as number) + m[0].length, kind: 'SECRET' });
  }
}

export function findTokenFormats(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  findJwts(text, out);
  findPemKeys(text, out);
  findPrefixedTokens(text, out);
  return out;
}
