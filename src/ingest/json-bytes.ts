/**
 * Bytes that must hold UTF-8 JSON (an HTTP body, a Kafka message), parsed strictly: invalid
 * UTF-8 is refused, never replaced. Each transport words and codes the refusal its own way.
 */
export type JsonBytes = { ok: true; text: string; json: unknown } | { ok: false; problem: 'not_utf8' | 'invalid_json'; detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBytes(bytes: Uint8Array): JsonBytes {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, problem: 'not_utf8', detail: 'not valid UTF-8' };
  }
  try {
    return { ok: true, text, json: JSON.parse(text) };
  } catch (e) {
    return { ok: false, problem: 'invalid_json', detail: (e as Error).message };
  }
}
