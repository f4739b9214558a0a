/**
 * Sends the pending notifications of the notification log, off the ingest path. Each attempt's
 * outcome is written back to the log (sent, retrying with the next attempt's time, or dead after
 * the last attempt or a permanent refusal), so a restart resumes the pending ones. The promise is
 * at-least-once: a notification sent just before a crash, whose outcome was not yet written, is
 * sent again after the restart. A slow receiver holds only its own delivery slot.
 *
 * Takeover: an instance that is gone for good would leave its pending notifications in the log.
 * Every worker therefore adopts other instances' notifications that nobody has touched for
 * `takeoverMs` (overdue and unwritten that long: an instance that is alive attempts its own by their
 * due time, and retries are at most `maxDelayMs` apart). Adopting writes the row again under this
 * instance, so the newest row names one owner. No lease or heartbeat: if two instances adopt the
 * same row at once, or the owner comes back at that moment, the notification can go out twice,
 * which is inside the at-least-once promise.
 */
import type { AlertDeliveryRepository, NotificationRecord } from '../../storage/alert-delivery.repository';
import type { AlertingConfig } from '../alerting/alerting-config';
import { DeliveryError, integrationsOf, send, SendContext } from './integrations';
import type { Notification } from './notification';

export interface DeliveryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  concurrency: number;
  pollMs: number;
  /** Adopt other instances' notifications untouched this long (0: never). */
  takeoverMs?: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 5 * 60_000, concurrency: 16, pollMs: 500, takeoverMs: 10 * 60_000 };

export interface DeliveryStats {
  sent: number;
  retried: number;
  dead: number;
  adopted: number;
}

export class DeliveryWorker {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** When each recent delivery's outcome was written: a read that started before then may be stale. */
  private readonly settled = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  readonly stats: DeliveryStats = { sent: 0, retried: 0, dead: 0, adopted: 0 };
  private lastTakeover = -Infinity;

  constructor(
    private readonly repo: AlertDeliveryRepository,
    private readonly config: () => AlertingConfig,
    private readonly instance: string,
    private readonly ctx: SendContext,
    private readonly opts: DeliveryOptions = DEFAULT_DELIVERY,
    private readonly log: (level: 'log' | 'warn' | 'error', msg: string) => void = () => undefined,
    private readonly observe: (receiver: string, integration: string, outcome: string, seconds: number) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.poll().finally(loop), this.opts.pollMs);
      this.timer.unref();
    };
    void this.poll().finally(loop);
  }

  /** Looks for due notifications now (called when the dispatcher queued some). */
  wake(): void {
    if (!this.stopped) void this.poll();
  }

  poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = (async () => {
      do {
        this.again = false;
        try {
          await this.pollOnce();
        } catch (e) {
          this.log('warn', `reading the notification log failed: ${(e as Error).message}`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const free = this.opts.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const now = this.now();
    const takeover = this.opts.takeoverMs ?? 0;
    if (takeover > 0 && now - this.lastTakeover >= Math.min(10_000, takeover)) {
      this.lastTakeover = now;
      await this.adoptOrphans(now, takeover);
    }
    const readAt = performance.now();
    const rows = await this.repo.undelivered(this.instance, free + this.inFlight.size + 50);
    for (const [id, at] of this.settled) if (at < readAt - 60_000) this.settled.delete(id);
    for (const n of rows) {
      if (this.inFlight.size >= this.opts.concurrency) break;
      if (this.inFlight.has(n.notification_id) || Date.parse(n.next_attempt_at) > now) continue;
      // Written while this read was under way: the row read is the one before that attempt.
      if ((this.settled.get(n.notification_id) ?? -Infinity) >= readAt) continue;
      const p = this.deliver(n).finally(() => {
        this.inFlight.delete(n.notification_id);
        // A freed slot takes a waiting notification at once, not at the next poll interval.
        if (!this.stopped) void this.poll();
      });
      this.inFlight.set(n.notification_id, p);
    }
  }

  /** Writes other instances' long-untouched notifications again under this instance (see the header). */
  private async adoptOrphans(now: number, takeoverMs: number): Promise<void> {
    const rows = await this.repo.orphaned(this.instance, new Date(now - takeoverMs).toISOString(), 100);
    if (!rows.length) return;
    const at = new Date(now).toISOString();
    await this.repo.saveNotifications(rows.map((n) => ({ ...n, instance: this.instance, updated_at: at })));
    this.stats.adopted += rows.length;
    for (const n of rows) {
      this.log('warn', `notification ${n.notification_id} to ${n.receiver}/${n.integration} adopted from instance ${n.instance}, untouched for ${Math.round((now - Date.parse(n.updated_at)) / 1000)} s`);
    }
  }

  private async deliver(n: NotificationRecord): Promise<void> {
    const started = Date.now();
    const attempts = n.attempts + 1;
    const receiver = this.config().receivers.get(n.receiver);
    const integration = receiver ? integrationsOf(receiver).find((i) => i.key === n.integration) : undefined;
    let outcome: NotificationRecord['outcome'];
    let error = '';
    let next = n.next_attempt_at;
    try {
      if (!integration) throw new DeliveryError(`receiver '${n.receiver}' ${receiver ? `has no ${n.integration}` : 'is no longer'} in the alerting file`, true);
      await send(integration, JSON.parse(n.payload) as Notification, this.ctx);
      outcome = 'sent';
      this.stats.sent++;
    } catch (e) {
      const err = e instanceof DeliveryError ? e : new DeliveryError((e as Error).message, false);
      error = err.message;
      if (err.permanent || attempts >= this.opts.maxAttempts) {
        outcome = 'dead';
        this.stats.dead++;
        this.log('error', `notification ${n.notification_id} to ${n.receiver}/${n.integration} is dead after ${attempts} attempt(s): ${error}`);
      } else {
        outcome = 'retrying';
        this.stats.retried++;
        const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempts - 1));
        next = new Date(this.now() + delay).toISOString();
        this.log('warn', `notification ${n.notification_id} to ${n.receiver}/${n.integration} failed (attempt ${attempts}): ${error}; retrying in ${delay} ms`);
      }
    }
    this.observe(n.receiver, n.integration, outcome, (Date.now() - started) / 1000);
    await this.record({ ...n, outcome, attempts, last_error: error, next_attempt_at: next, updated_at: new Date(this.now()).toISOString() });
    this.settled.set(n.notification_id, performance.now());
  }

  private batch: NotificationRecord[] = [];
  private committing: Promise<void> | null = null;

  /** Group commit: outcomes finished in the same turn of the loop are written in one insert. */
  private record(row: NotificationRecord): Promise<void> {
    this.batch.push(row);
    this.committing ??= new Promise<void>((r) => setImmediate(r)).then(() => {
      const rows = this.batch;
      this.batch = [];
      this.committing = null;
      return this.repo.saveNotifications(rows);
    });
    return this.committing;
  }

  /** Stops polling; waits up to `deadlineMs` for deliveries in flight (the rest stay pending in the log). */
  async stop(deadlineMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const all = Promise.all([...this.inFlight.values(), this.polling ?? Promise.resolve()]);
    await Promise.race([all, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
  }

  /** Resolves when nothing is in flight (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.inFlight.size || this.polling) await Promise.all([...this.inFlight.values(), this.polling]);
  }
}
