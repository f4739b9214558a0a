import type { BatchWriter } from './batch-writer';
import { ContentPolicy, RedactionUnavailableError, redactMany, sha256 } from './content-policy';
import { chTime } from './events.repository';

const MAX_PAYLOAD = 16_384;
// Longer than any secret a detector needs to see whole (PEM keys excepted: a truncated key is
// still recognised by its BEGIN line).
const REDACTION_MARGIN = 4_096;

export interface DeadLetter {
  channel: 'http' | 'kafka' | 'cli';
  reason: string;
  errors: Array<{ field: string; message: string }>;
  payload: string;
  eventId?: string;
  tenant?: string;
}

/**
 * Rejected inputs, with the reason. The payload obeys the content policy like any prompt. Under
 * `redacted`, a payload that cannot be scanned (redaction worker down) is not kept at all: a dead
 * letter must still be recorded, and its digest still identifies it.
 */
export class DeadLetterRepository {
  constructor(private readonly writer: BatchWriter, private readonly policyOf: (tenant: string | undefined) => ContentPolicy) {}

  async record(items: DeadLetter[], now: Date = new Date()): Promise<void> {
    // Each item under its tenant's policy (a body rejected whole has no tenant: the default).
    const payloads: string[] = new Array(items.length);
    const byPolicy = new Map<ContentPolicy, number[]>();
    items.forEach((d, i) => {
      const p = this.policyOf(d.tenant || undefined);
      byPolicy.set(p, [...(byPolicy.get(p) ?? []), i]);
    });
    for (const [policy, idx] of byPolicy) {
      const stored = await this.storedPayloads(idx.map((i) => items[i].payload), policy);
      idx.forEach((i, k) => (payloads[i] = stored[k]));
    }
    return this.writer.write('dead_letters', items.map((d, i) => ({
      received_at: chTime(now.toISOString()),
      channel: d.channel,
      event_id: d.eventId ?? '',
      tenant: d.tenant ?? '',
      reason: d.reason,
      errors: JSON.stringify(d.errors),
      payload: payloads[i],
      payload_sha256: sha256(d.payload),
    })));
  }

  private async storedPayloads(payloads: string[], policy: ContentPolicy): Promise<string[]> {
    if (policy === 'full') return payloads.map((p) => p.slice(0, MAX_PAYLOAD));
    if (policy === 'hash') return payloads.map(() => '');
    // Redact a little more than is kept, then cut: cutting first could split a secret so that
    // its detector no longer recognises the part left before the cut.
    try {
      const redacted = await redactMany(payloads.map((p) => p.slice(0, MAX_PAYLOAD + REDACTION_MARGIN)));
      return redacted.map((p) => p.slice(0, MAX_PAYLOAD));
    } catch (e) {
      if (e instanceof RedactionUnavailableError) return payloads.map(() => '');
      throw e;
    }
  }
}
