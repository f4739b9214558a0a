import { createHash } from 'node:crypto';

import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import type { ClickHouseClient } from '@clickhouse/client';

import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { RetentionRepository } from '../../storage/retention.repository';
import { CLICKHOUSE } from '../../storage/storage.module';
import { AuditService } from '../audit/audit.service';
import { Metrics } from '../metrics';
import { RetentionOutcome, RetentionRunner } from './retention-runner';

/** 0..59 from the instance id: the minute of its daily pass and the seconds its start pass waits. */
export function instanceSlot(instanceId: string): number {
  return createHash('sha256').update(instanceId).digest().readUInt32BE(0) % 60;
}

/**
 * Retention in the service: a pass shortly after start (once the audit trail is open; after
 * `instanceSlot` seconds) and one a day at 03:<slot> UTC through @nestjs/schedule's registry.
 * Instances that share a store get different slots (unless their ids collide), so their passes
 * do not overlap; retention-runner.ts says what happens when they do. A pass never overlaps
 * another in this process.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap {
  private readonly log = new Logger('retention');
  private readonly runner: RetentionRunner;
  private running: Promise<RetentionOutcome | null> | null = null;
  private startTimer: NodeJS.Timeout | null = null;

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, @Inject(CLICKHOUSE) client: ClickHouseClient, private readonly audit: AuditService,
    metrics: Metrics, private readonly registry: SchedulerRegistry) {
    this.runner = new RetentionRunner({ repo: new RetentionRepository(client), append: (r) => this.audit.trail.append(r), actor: 'probewatch', retentionDays: cfg.retentionDays, metrics });
  }

  onApplicationBootstrap(): void {
    const slot = instanceSlot(this.cfg.alerting.instanceId);
    const job = CronJob.from({ cronTime: `${slot} 3 * * *`, onTick: () => void this.run('daily'), start: true, timeZone: 'UTC' });
    this.registry.addCronJob('retention', job as unknown as Parameters<SchedulerRegistry['addCronJob']>[1]);
    this.startTimer = setTimeout(() => void this.run('start'), slot * 1000);
    this.startTimer.unref();
    this.log.log(`retention: ${this.cfg.retentionDays} days by monthly partition; a pass in ${slot} s, then daily at 03:${String(slot).padStart(2, '0')} UTC`);
  }

  /** One pass (or the one in progress); errors are logged, never thrown. */
  run(reason: string): Promise<RetentionOutcome | null> {
    if (!this.running) this.running = this.pass(reason).finally(() => (this.running = null));
    return this.running;
  }

  private async pass(reason: string): Promise<RetentionOutcome | null> {
    try {
      await this.audit.ready();
      const r = await this.runner.apply();
      for (const d of r.dropped) this.log.log(`dropped ${d.table} partition ${d.partition} (${d.rows} rows, newest ${d.max_time}; cutoff ${r.cutoff})`);
      for (const f of r.failed) this.log.error(`dropping ${f.table} partition ${f.partition} failed (recorded): ${f.error}`);
      for (const e of r.errors) this.log.error(`listing the partitions of ${e.table} failed: ${e.error}`);
      if (reason !== 'start' || r.dropped.length) this.log.log(`${reason} pass: ${r.dropped.length} partitions dropped, ${r.failed.length} failed`);
      return r;
    } catch (e) {
      this.log.error(`${reason} retention pass failed: ${(e as Error).message}`);
      return null;
    }
  }

  /** At shutdown, before the trail and the store close: no new pass; the one in progress finishes. */
  async stop(): Promise<void> {
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.registry.doesExist('cron', 'retention')) this.registry.deleteCronJob('retention');
    await this.running;
  }
}
