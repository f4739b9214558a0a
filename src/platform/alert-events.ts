/**
 * "Alert raised" and "alert resolved": the one event through which alerts leave the stage that
 * made them (the pipeline for event rules, the scheduler for windowed and sequence rules). The
 * alerts are stored before they are published. Receivers (webhooks, the alerts topic) subscribe;
 * publishing never waits for them.
 */
import { Logger } from '@nestjs/common';

import type { Alert } from '../domain/alert';
import type { Channel } from '../domain/event';
import { Topic } from './topic';

export type AlertEvent =
  | { type: 'raised'; alerts: Alert[]; origin: 'event'; channel: Channel }
  | { type: 'raised' | 'resolved'; alerts: Alert[]; origin: 'scheduled' };

export class AlertEvents extends Topic<AlertEvent> {
  constructor(log: (m: string) => void = (m) => new Logger('alert-events').error(m)) {
    super((e) => log(`an alert subscriber failed: ${e.message}`));
  }
}
