import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';

import { AlertsService } from './alerts/alerts.service';
import { KafkaIngestService } from './kafka/kafka.module';
import { AuditService } from './ops/audit/audit.service';
import { ReportsService } from './ops/reports/reports.service';
import { RetentionService } from './ops/retention/retention.service';
import { PipelineService } from './ingest/pipeline.service';
import { ProbeEngine } from './probe/probe-engine';
import { BatchWriter } from './storage/batch-writer';
import { CLICKHOUSE } from './storage/storage.module';

/**
 * Graceful shutdown in data-path order: stop consuming Kafka (the chunk in progress commits), stop taking events and drain the queue (every accepted
 * event is scored and stored), record the alerts raised meanwhile and give notifications in flight a few seconds (the rest stay pending in the notification log), flush the writer, then release the model and the store.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown {
  private readonly log = new Logger('lifecycle');

  constructor(
    private readonly kafka: KafkaIngestService,
    private readonly pipeline: PipelineService,
    private readonly alerts: AlertsService,
    private readonly audit: AuditService,
    private readonly reports: ReportsService,
    private readonly retention: RetentionService,
    private readonly writer: BatchWriter,
    private readonly engine: ProbeEngine,
    @Inject(CLICKHOUSE) private readonly client: ClickHouseClient,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const t0 = Date.now();
    this.log.log(`shutting down (${signal ?? 'close'}): draining ${this.pipeline.pipeline.depth + this.pipeline.pipeline.inFlight} events`);
    await this.kafka.stop();
    await this.pipeline.pipeline.stop();
    await this.pipeline.closeAcceptLog();
    this.reports.stop();
    await this.retention.stop();
    await this.alerts.shutdown();
    await this.audit.shutdown();
    await this.writer.close();
    await this.engine.close();
    await this.client.close();
    this.log.log(`shutdown complete in ${Date.now() - t0} ms`);
  }
}
