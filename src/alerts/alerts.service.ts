import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { AlertEvent, AlertEvents } from '../platform/alert-events';
import { WebhookNotifier } from './webhook-notifier';

/**
 * Alert delivery: the log (by the stage that raised the alert), the API (via storage), and a
 * webhook if configured. Subscribes to the alert events, so raising an alert never waits for
 * the webhook; deliveries in flight are awaited at shutdown (`settle`).
 */
@Injectable()
export class AlertsService implements OnModuleDestroy {
  private readonly log = new Logger('alerts');
  readonly webhook: WebhookNotifier | null;
  private readonly unsubscribe: () => void;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(@Inject(APP_CONFIG) cfg: AppConfig, events: AlertEvents) {
    this.webhook = cfg.webhook ? new WebhookNotifier(cfg.webhook, (m) => this.log.warn(m)) : null;
    this.unsubscribe = events.subscribe((ev) => this.deliver(ev));
  }

  private deliver(ev: AlertEvent): void {
    if (!this.webhook || ev.alerts.length === 0) return;
    const p = this.webhook.notify(ev.alerts).catch((e: Error) => this.log.error(`webhook delivery failed: ${e.message}`));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves when every delivery started so far has finished (delivered or given up). */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }
}
