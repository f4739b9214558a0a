/**
 * The redaction entry points. Detection runs in a worker thread (redaction-scanner.ts), so these
 * are asynchronous; findLocalSpans/redactLocal are the synchronous subset (no secretlint) for
 * short strings such as a single token.
 */
import { findLocalSpans } from './local-detectors';
import { sharedSpanScanner, SpanScanner } from './redaction-scanner';
import { replaceSpans, SensitiveSpan } from './sensitive-span';

/** Merged, sorted, non-overlapping spans of personal data and secrets (UTF-16 offsets). */
export async function findSensitiveSpans(text: string, scanner: SpanScanner = sharedSpanScanner()): Promise<SensitiveSpan[]> {
  return (await scanner.scan([text]))[0];
}

/** findSensitiveSpans for several texts in one round trip to the worker. */
export function findSensitiveSpansMany(texts: readonly string[], scanner: SpanScanner = sharedSpanScanner()): Promise<SensitiveSpan[][]> {
  return scanner.scan(texts);
}

/** The text with each sensitive span replaced by a typed placeholder such as [EMAIL]. */
export async function redact(text: string, scanner: SpanScanner = sharedSpanScanner()): Promise<string> {
  return replaceSpans(text, await findSensitiveSpans(text, scanner));
}

export async function redactMany(texts: readonly string[], scanner: SpanScanner = sharedSpanScanner()): Promise<string[]> {
  const spans = await scanner.scan(texts);
  return texts.map((t, i) => replaceSpans(t, spans[i]));
}

/** Synchronous redaction without secretlint: for strings too short to hold a vendor key. */
export function redactLocal(text: string): string {
  return replaceSpans(text, findLocalSpans(text));
}
