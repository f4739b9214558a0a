import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Response } from 'express';

import { KafkaIngestService } from '../kafka/kafka.module';
import { PipelineService } from '../ingest/pipeline.service';
import { ProbeEngine } from '../probe/probe-engine';
import { RuleSetService } from '../rules/rule-set.service';
import { BatchWriter } from '../storage/batch-writer';
import { CLICKHOUSE } from '../storage/storage.module';
import { Public, Requires } from '../platform/access.decorators';
import { Metrics } from './metrics';
import { OPENAPI } from './openapi';

@Controller()
export class OpsController {
  constructor(
    @Inject(CLICKHOUSE) private readonly client: ClickHouseClient,
    private readonly engine: ProbeEngine,
    private readonly rules: RuleSetService,
    private readonly writer: BatchWriter,
    private readonly pipeline: PipelineService,
    private readonly metrics: Metrics,
    private readonly kafka: KafkaIngestService,
  ) {}

  @Public()
  @Get('healthz')
  healthz(): unknown {
    return { status: 'ok' };
  }

  @Public()
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response): Promise<unknown> {
    const storage = await this.client.ping().then((p) => p.success, () => false);
    const checks = {
      model: { ok: true, pack: `${this.engine.pack.manifest.id}@${this.engine.pack.manifest.version}` },
      storage: { ok: storage && this.writer.healthy, last_error: this.writer.stats.lastError },
      rules: this.rules.readiness,
      ...(this.kafka.ingest ? { kafka: { ok: this.kafka.running, paused: this.kafka.ingest.isPaused, last_error: this.kafka.lastError } } : {}),
    };
    // Rejected rule files while a good set serves (the last good one, possibly from storage) make
    // the service degraded, not unready: it works, and failing readiness would turn a bad rule
    // file into an outage. The rules check says so, with the problems.
    const ok = Object.entries(checks).every(([name, c]) => c.ok || (name === 'rules' && this.rules.serving));
    res.status(ok ? 200 : 503);
    return { status: ok ? (checks.rules.ok ? 'ready' : 'degraded') : 'not_ready', checks };
  }

  @Requires('metrics:read')
  @Get('metrics')
  async metricsText(@Res() res: Response): Promise<void> {
    const s = this.engine.stats;
    this.metrics.queueDepth.set(this.pipeline.pipeline.depth);
    this.metrics.writerPending.set(this.writer.pendingRows);
    this.metrics.writerFailures.set(this.writer.stats.failures);
    this.metrics.writerInserts.set(this.writer.stats.inserts);
    this.metrics.writerInsertSeconds.set(this.writer.stats.insertSeconds);
    this.metrics.syncPrefixCache(this.engine.prefixCacheStats);
    this.rules.exportHealth();
    res.setHeader('content-type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics() + `# HELP probewatch_probe_batches_total Inference batches run\n# TYPE probewatch_probe_batches_total counter\nprobewatch_probe_batches_total ${s.batches}\n`
      + `# HELP probewatch_probe_tokens_total Tokens run through the model\n# TYPE probewatch_probe_tokens_total counter\nprobewatch_probe_tokens_total ${s.tokens}\n`);
  }

  @Public()
  @Get('docs')
  @Header('content-type', 'application/json')
  docs(): unknown {
    return OPENAPI;
  }
}
