/**
 * Delivers alerts to a generic webhook: POST JSON, retried with exponential backoff on network
 * errors, 5xx and 429; 4xx other than 429 is permanent. Deduplicated by alert_id in this
 * process, so a redelivered event does not notify twice.
 */
import type { Alert } from '../domain/alert';

export interface WebhookOptions {
  url: string;
  retries: number;
  baseDelayMs: number;
  timeoutMs: number;
  headers?: Record<string, string>;
}

export interface DeliveryStats {
  sent: number;
  failed: number;
  retried: number;
  deduplicated: number;
}

const SEEN_LIMIT = 100_000;

export class WebhookNotifier {
  private readonly seen = new Set<string>();
  readonly stats: DeliveryStats = { sent: 0, failed: 0, retried: 0, deduplicated: 0 };

  constructor(private readonly opts: WebhookOptions, private readonly log: (msg: string) => void = () => {}) {}

  async notify(alerts: Alert[]): Promise<void> {
    await Promise.all(alerts.map((a) => this.deliver(a)));
  }

  private async deliver(alert: Alert): Promise<void> {
    // A windowed alert is sent twice: firing, then resolved (same id).
    const status = alert.ends_at ? 'resolved' : 'firing';
    const key = `${alert.alert_id}:${status}`;
    if (this.seen.has(key)) {
      this.stats.deduplicated++;
      return;
    }
    const body = JSON.stringify({ version: '1', status, alerts: [{ ...alert, status }] });
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) {
        this.stats.retried++;
        await new Promise((r) => setTimeout(r, this.opts.baseDelayMs * 2 ** (attempt - 1)));
      }
      try {
        const res = await fetch(this.opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.opts.headers },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        if (res.ok) {
          this.remember(key);
          this.stats.sent++;
          return;
        }
        if (res.status !== 429 && res.status < 500) {
          this.stats.failed++;
          this.log(`webhook rejected alert ${alert.alert_id} with HTTP ${res.status}; not retrying`);
          return;
        }
        this.log(`webhook answered HTTP ${res.status} for alert ${alert.alert_id} (attempt ${attempt + 1})`);
      } catch (e) {
        this.log(`webhook delivery of ${alert.alert_id} failed: ${(e as Error).message} (attempt ${attempt + 1})`);
      }
    }
    this.stats.failed++;
  }

  private remember(id: string): void {
    if (this.seen.size >= SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
    this.seen.add(id);
  }
}
