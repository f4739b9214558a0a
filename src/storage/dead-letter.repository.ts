import type { BatchWriter } from './batch-writer';
import { ContentPolicy, redact, sha256 } from './content-policy';
import { chTime } from './events.repository';

const MAX_PAYLOAD = 16_384;

export interface DeadLetter {
  channel: 'http' | 'kafka' | 'cli';
  reason: string;
  errors: Array<{ field: string; message: string }>;
  payload: string;
  eventId?: string;
  tenant?: string;
}

/** Rejected inputs, with the reason. The payload obeys the content policy like any prompt. */
export class DeadLetterRepository {
  constructor(private readonly writer: BatchWriter, private readonly policy: ContentPolicy) {}

  record(items: DeadLetter[], now: Date = new Date()): Promise<void> {
    return this.writer.write('dead_letters', items.map((d) => ({
      received_at: chTime(now.toISOString()),
      channel: d.channel,
      event_id: d.eventId ?? '',
      tenant: d.tenant ?? '',
      reason: d.reason,
      errors: JSON.stringify(d.errors),
      payload: this.policy === 'hash' ? '' : (this.policy === 'redacted' ? redact(d.payload) : d.payload).slice(0, MAX_PAYLOAD),
      payload_sha256: sha256(d.payload),
    })));
  }
}
