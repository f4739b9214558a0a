/**
 * Character and shape checks for untrusted event fields (pure). Everything here is linear in
 * the input and iterative, so no input can exhaust the stack. Text must be well-formed
 * (`String.prototype.isWellFormed`: no lone UTF-16 surrogates, which cannot be stored as UTF-8
 * and read back).
 */
import type { FieldError } from '../domain/event';

/** tenant, source, model: ASCII only, so no control characters and no look-alike letters. */
export const SAFE_IDENT = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;
/** Event ids: printable ASCII without spaces (UUIDs, ULIDs, `conv-1:turn-3`, …). */
export const SAFE_ID = /^[\x21-\x7e]+$/;

/** Control (Cc), format (Cf: bidi overrides, zero-width), private-use and unassigned code points. */
const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u;

export function hasControlOrFormatChars(s: string): boolean {
  return CONTROL_OR_FORMAT.test(s);
}

const MAX_METADATA_NODES = 2048;
const MAX_KEY_CHARS = 128;

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key.slice(0, 32))}]`;
}

/**
 * `metadata`: at most `maxDepth` levels of objects/arrays (the metadata object is level 1), at
 * most 2048 values, keys of at most 128 printable characters, well-formed strings, and at most
 * `maxBytes` of JSON. Stops at the first structural problem (a hostile document can be large).
 */
export function checkMetadata(metadata: Record<string, unknown>, maxDepth: number, maxBytes: number): FieldError[] {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: metadata, depth: 1, path: 'metadata' }];
  let nodes = 0;
  while (stack.length) {
    const { value, depth, path } = stack.pop() as { value: unknown; depth: number; path: string };
    if (++nodes > MAX_METADATA_NODES) return [{ field: 'metadata', message: `more than ${MAX_METADATA_NODES} values` }];
    if (typeof value === 'string') {
      if (value.includes('\u0000') || !value.isWellFormed()) return [{ field: path, message: 'must be well-formed text without NUL characters' }];
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return [{ field: path, message: `nested deeper than ${maxDepth} levels` }];
    if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, depth: depth + 1, path: pathOf(path, i) }));
      continue;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k.length > MAX_KEY_CHARS || hasControlOrFormatChars(k) || !k.isWellFormed()) {
        return [{ field: pathOf(path, k), message: `keys must be at most ${MAX_KEY_CHARS} printable characters` }];
      }
      stack.push({ value: v, depth: depth + 1, path: pathOf(path, k) });
    }
  }
  // Depth is bounded now, so serialising cannot overflow the stack.
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > maxBytes) return [{ field: 'metadata', message: `larger than ${maxBytes} bytes of JSON (${bytes})` }];
  return [];
}
