import { Inject, Injectable, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';

import { AlertsModule } from '../alerts/alerts.module';
import { AlertsService } from '../alerts/alerts.service';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { IngestModule } from '../ingest/ingest.module';
import { PipelineService } from '../ingest/pipeline.service';
import { Metrics } from '../ops/metrics';
import { AlertEvent, AlertEvents } from '../platform/alert-events';
import { RulesModule } from '../rules/rules.module';
import { BatchWriter } from '../storage/batch-writer';
import { StorageModule } from '../storage/storage.module';
import { KafkaIngest } from './kafka-ingest';

/** Kafka ingestion when KAFKA_BROKERS is set; otherwise inert. Starts after the app is built. */
@Injectable()
export class KafkaIngestService implements OnApplicationBootstrap {
  private readonly log = new Logger('kafka');
  readonly ingest: KafkaIngest | null;
  private starting: Promise<void> | null = null;
  private stopped = false;
  lastError: string | null = null;
  running = false;
  private unsubscribe: (() => void) | null = null;
  /** Alert publications in flight, awaited before the producer closes. */
  private readonly publishing = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) cfg: AppConfig,
    private readonly pipeline: PipelineService,
    private readonly alertEvents: AlertEvents,
    writer: BatchWriter,
    metrics: Metrics,
    private readonly alerts: AlertsService,
  ) {
    this.ingest = cfg.kafka
      ? new KafkaIngest(cfg.kafka, cfg.eventLimits, {
        process: (events, at) => this.pipeline.pipeline.process(events, at),
        storageHealthy: () => writer.healthy,
        metrics,
        log: (level, msg) => this.log[level](msg),
      })
      : null;
  }

  onApplicationBootstrap(): void {
    if (!this.ingest) return;
    const ingest = this.ingest;
    // Keep trying in the background: a broker that is down at boot must not stop the HTTP API.
    this.starting = (async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          await ingest.start();
          this.running = true;
          this.lastError = null;
          this.unsubscribe = this.alertEvents.subscribe((ev) => this.publish(ingest, ev));
          this.alerts.setTopicProducer({ send: (topic, messages) => ingest.publish(topic, messages) });
          return;
        } catch (e) {
          this.lastError = (e as Error).message;
          this.log.error(`could not start Kafka ingestion (attempt ${attempt}): ${this.lastError}; retrying in 5 s`);
          await ingest.stop().catch(() => undefined);
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    })();
  }

  /**
   * The alerts topic carries every alert. Those of Kafka events are written by the consumer's
   * transaction with the offsets (exactly once); the rest (HTTP and replayed events, scheduled
   * rules) are published here, at least once.
   */
  private publish(ingest: KafkaIngest, ev: AlertEvent): void {
    if (ev.origin === 'event' && ev.channel === 'kafka') return;
    const p = ingest.publishAlerts(ev.alerts).catch((e: Error) => this.log.error(`publishing alerts failed: ${e.message}`));
    this.publishing.add(p);
    void p.finally(() => this.publishing.delete(p));
  }

  /** Stop consuming first, so that nothing new enters the pipeline while it drains. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.ingest) return;
    await this.starting;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.alerts.setTopicProducer(null);
    await Promise.all(this.publishing);
    await this.ingest.stop();
    this.running = false;
  }
}

@Module({ imports: [IngestModule, StorageModule, RulesModule, AlertsModule], providers: [KafkaIngestService], exports: [KafkaIngestService] })
export class KafkaModule {}
