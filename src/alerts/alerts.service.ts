import { Inject, Injectable, Logger } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import type { Alert } from '../domain/alert';
import { WebhookNotifier } from './webhook-notifier';

/** Alert delivery: the log always (by the pipeline), the API (via storage), and a webhook if configured. */
@Injectable()
export class AlertsService {
  private readonly log = new Logger('alerts');
  readonly webhook: WebhookNotifier | null;

  constructor(@Inject(APP_CONFIG) cfg: AppConfig) {
    this.webhook = cfg.webhook ? new WebhookNotifier(cfg.webhook, (m) => this.log.warn(m)) : null;
  }

  async deliver(alerts: Alert[]): Promise<void> {
    if (this.webhook) await this.webhook.notify(alerts);
  }
}
