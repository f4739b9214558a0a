import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import type { ClickHouseClient } from '@clickhouse/client';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { AlertsService } from '../../alerts/alerts.service';
import { AuditEvents } from '../../platform/audit-events';
import { ProbeEngine } from '../../probe/probe-engine';
import { ReportRepository } from '../../storage/report.repository';
import { CLICKHOUSE } from '../../storage/storage.module';
import { AuditService } from '../audit/audit.service';
import { buildReport, render, ReportFormat, reportContext } from './report';

export interface ReportMeta {
  id: string;
  status: 'pending' | 'ready' | 'failed';
  format: ReportFormat;
  from: string;
  to: string;
  tenant: string | null;
  requested_by: string;
  requested_at: string;
  sha256?: string;
  error?: string;
}

export const SERVICE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/**
 * Reports asked for through the API: generated in the background into
 * $PROBEWATCH_DATA_DIR/reports/<id>.<format> with a <id>.json description beside it, so they
 * outlive a restart; each generation is recorded in the audit trail.
 */
@Injectable()
export class ReportsService implements OnApplicationBootstrap {
  private readonly log = new Logger('reports');
  readonly dir: string;
  private readonly repo: ReportRepository;

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, @Inject(CLICKHOUSE) client: ClickHouseClient, private readonly engine: ProbeEngine,
    private readonly audit: AuditService, private readonly events: AuditEvents, private readonly alerts: AlertsService, private readonly registry: SchedulerRegistry) {
    this.dir = cfg.reports.dir;
    this.repo = new ReportRepository(client);
  }

  /**
   * PROBEWATCH_REPORT_SCHEDULE: a cron job (through @nestjs/schedule's registry) that reports on
   * the time since the previous scheduled report (the first covers the previous 24 h), writes it
   * into data/reports and announces it through the receivers that the labels
   * {alertname: "probewatch report", severity: "info"} route to.
   */
  onApplicationBootstrap(): void {
    const expr = this.cfg.reports.schedule;
    if (!expr) return;
    const job = CronJob.from({ cronTime: expr, onTick: () => void this.scheduled(), start: true, timeZone: 'UTC' });
    this.registry.addCronJob('reports', job as unknown as Parameters<SchedulerRegistry['addCronJob']>[1]);
    this.log.log(`scheduled reports: '${expr}' (UTC), ${this.cfg.reports.format}, next at ${job.nextDate().toISO()}`);
  }

  stop(): void {
    if (this.registry.doesExist('cron', 'reports')) this.registry.deleteCronJob('reports');
  }

  private lastScheduled(): string | null {
    const f = path.join(this.dir, '.last-scheduled');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : null;
  }

  /** One scheduled report; resolves once it is written and announced. */
  async scheduled(now = new Date()): Promise<ReportMeta> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const from = this.lastScheduled() ?? new Date(now.getTime() - 86_400_000).toISOString();
    const to = now.toISOString();
    writeFileSync(path.join(this.dir, '.last-scheduled'), to);
    const meta: ReportMeta = { id: randomUUID(), status: 'pending', format: this.cfg.reports.format, from, to, tenant: null, requested_by: 'schedule', requested_at: to };
    writeFileSync(this.metaFile(meta.id), JSON.stringify(meta));
    await this.generate(meta);
    const done = this.get(meta.id);
    if (done?.status === 'ready') {
      const link = `${this.cfg.alerting.externalUrl}/v1/reports/${meta.id}`;
      await this.alerts.announce({ alertname: 'probewatch report', rule: 'probewatch report', severity: 'info', tenant: '' },
        { summary: `Compliance report ${from} to ${to} is ready`, description: `sha256 ${done.sha256}`, link }, meta.id);
    }
    return done ?? meta;
  }

  private metaFile(id: string): string {
    return path.join(this.dir, `${id}.meta.json`);
  }

  get(id: string): ReportMeta | null {
    if (!/^[0-9a-f-]{36}$/.test(id) || !existsSync(this.metaFile(id))) return null;
    return JSON.parse(readFileSync(this.metaFile(id), 'utf8')) as ReportMeta;
  }

  file(meta: ReportMeta): string {
    return path.join(this.dir, `${meta.id}.${meta.format}`);
  }

  list(): ReportMeta[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((f) => f.endsWith('.meta.json')).map((f) => JSON.parse(readFileSync(path.join(this.dir, f), 'utf8')) as ReportMeta)
      .sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }

  /** Starts a report and answers its id at once; GET /v1/reports/:id serves it when ready. */
  request(req: { from: string; to: string; tenant: string | null; format: ReportFormat }, actor: string): ReportMeta {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const meta: ReportMeta = { id: randomUUID(), status: 'pending', format: req.format, from: req.from, to: req.to, tenant: req.tenant, requested_by: actor, requested_at: new Date().toISOString() };
    writeFileSync(this.metaFile(meta.id), JSON.stringify(meta));
    void this.generate(meta);
    return meta;
  }

  private async generate(meta: ReportMeta): Promise<void> {
    try {
      await this.audit.flush();
      const period = { from: meta.from, to: meta.to, ...(meta.tenant ? { tenant: meta.tenant } : {}) };
      const r = await buildReport(period, reportContext(this.cfg, this.repo, this.engine.pack.manifest, SERVICE_VERSION, this.audit.trail));
      writeFileSync(this.file(meta), await render(r, meta.format, { chromium: this.cfg.reports.chromium }), { mode: 0o600 });
      const done: ReportMeta = { ...meta, status: 'ready', sha256: (r.integrity as { body_sha256: string }).body_sha256 };
      writeFileSync(this.metaFile(meta.id), JSON.stringify(done));
      this.events.record(meta.requested_by, 'report.generate', meta.id, meta.tenant ?? '', { from: meta.from, to: meta.to, format: meta.format, body_sha256: done.sha256 });
    } catch (e) {
      this.log.error(`report ${meta.id} failed: ${(e as Error).message}`);
      writeFileSync(this.metaFile(meta.id), JSON.stringify({ ...meta, status: 'failed', error: (e as Error).message }));
    }
  }
}
