/**
 * The body of POST /v1/events, from raw bytes (pure). Nothing is guessed: the content type must
 * say JSON, the bytes must be valid UTF-8 (never silently replaced), and the JSON must parse.
 * A batch is split into its items' original text, so a rejected item is dead-lettered with the
 * bytes the client sent, not a re-serialisation.
 */
import { parseJsonBytes } from './json-bytes';

export type BodyError = { status: 400 | 415; error: string; field: string; message: string };

export type DecodedBody = { ok: true; batch: boolean; items: Array<{ value: unknown; raw: string }> } | ({ ok: false } & BodyError);

/** `application/json` or `application/<x>+json`, with no charset or charset=utf-8. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) return false;
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

export function decodeEventsBody(contentType: string | undefined, body: Buffer): DecodedBody {
  if (!isJsonContentType(contentType)) {
    return { ok: false, status: 415, error: 'unsupported_media_type', field: 'content-type', message: 'send application/json (UTF-8)' };
  }
  if (body.length === 0) return { ok: false, status: 400, error: 'invalid_json', field: 'body', message: 'the body is empty' };
  const parsed = parseJsonBytes(body);
  if (!parsed.ok && parsed.problem === 'not_utf8') return { ok: false, status: 400, error: 'invalid_utf8', field: 'body', message: 'the body is not valid UTF-8' };
  if (!parsed.ok) return { ok: false, status: 400, error: 'invalid_json', field: 'body', message: `invalid JSON: ${parsed.detail.slice(0, 200)}` };
  const { text, json } = parsed;
  if (!Array.isArray(json)) return { ok: true, batch: false, items: [{ value: json, raw: text.trim() }] };
  const raws = splitArrayItems(text);
  return { ok: true, batch: true, items: json.map((value, i) => ({ value, raw: raws[i] ?? '' })) };
}

/**
 * The source text of each element of a JSON array (the text is known to be valid JSON).
 * One linear scan tracking nesting and strings; no recursion.
 */
export function splitArrayItems(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (depth === 1 && start < 0) start = i;
    } else if (c === 0x5b || c === 0x7b) {
      if (depth === 1 && start < 0) start = i;
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0 && start >= 0) out.push(text.slice(start, i).trim());
    } else if (c === 0x2c && depth === 1) {
      out.push(text.slice(start, i).trim());
      start = -1;
    } else if (depth === 1 && start < 0 && c > 0x20) {
      start = i;
    }
  }
  return out;
}
