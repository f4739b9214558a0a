import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';

import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { withoutCredentials } from '../../config/env-reader';
import type { AuditRecord } from '../../domain/audit-chain';
import { AuditEvents } from '../../platform/audit-events';
import { ProbeEngine } from '../../probe/probe-engine';
import { AuditRepository } from '../../storage/audit.repository';
import { CLICKHOUSE } from '../../storage/storage.module';
import { AuditTrail, loadSigningKey } from './audit-trail';

/** The configuration in force, as recorded at each start: no secret, no credential. */
export function configSummary(cfg: AppConfig): Record<string, unknown> {
  return {
    pack: cfg.pack, provider: cfg.provider, store: { kind: cfg.store.kind, location: withoutCredentials(cfg.store.location), database: cfg.store.database },
    content_policy: cfg.contentPolicy, retention_days: cfg.retentionDays, auth: cfg.auth.enabled ? 'on' : 'off', metrics_open: cfg.auth.metricsOpen,
    rules_dir: cfg.rulesDir, alerting_file: cfg.alerting.file, instance: cfg.alerting.instanceId,
    kafka: cfg.kafka ? { brokers: cfg.kafka.brokers.map(withoutCredentials), topic: cfg.kafka.topic, group: cfg.kafka.groupId } : null,
  };
}

/**
 * The audit trail: every audit event is appended to this instance's hash chain (in order, one
 * insert per batch), checkpoints are signed every PROBEWATCH_AUDIT_CHECKPOINT_EVERY entries and at
 * least every minute, and each start records the configuration in force and the probe pack.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private readonly log = new Logger('audit');
  readonly trail: AuditTrail;
  private queue: AuditRecord[] = [];
  private flushing: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private markOpened: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => (this.markOpened = resolve));

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, @Inject(CLICKHOUSE) client: ClickHouseClient, private readonly events: AuditEvents, private readonly engine: ProbeEngine) {
    const key = loadSigningKey(cfg.audit.signingKeyFile);
    if (key.created) this.log.warn(`created the audit signing key ${cfg.audit.signingKeyFile} (Ed25519, mode 0600); keep it with the data and back it up`);
    this.trail = new AuditTrail(new AuditRepository(client), cfg.alerting.instanceId, key.privateKey, key.publicKey, cfg.audit.checkpointEvery);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.trail.open();
    this.markOpened();
    this.unsubscribe = this.events.subscribe((r) => this.enqueue(r));
    const m = this.engine.pack.manifest;
    this.enqueue({ actor: 'probewatch', action: 'service.start', target: this.cfg.alerting.instanceId, tenant: '', detail: JSON.stringify(configSummary(this.cfg)) });
    this.enqueue({ actor: 'probewatch', action: 'pack.load', target: `${m.id}@${m.version}`, tenant: '', detail: JSON.stringify({ layer: m.model.layer, concepts: Object.keys(m.concepts ?? {}) }) });
    this.timer = setInterval(() => void this.trail.checkpoint().catch((e: Error) => this.log.error(`audit checkpoint failed: ${e.message}`)), this.cfg.audit.checkpointMs);
    this.timer.unref();
    await this.flush();
  }

  /** Resolves once the trail has read its chain's head: appending to `trail` before that would fork the chain. */
  ready(): Promise<void> {
    return this.opened;
  }

  private enqueue(r: AuditRecord): void {
    this.queue.push(r);
    if (!this.flushing) this.flushing = new Promise<void>((res) => setImmediate(res)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.trail.append(batch);
      } catch (e) {
        // Kept for the next attempt: the trail must not lose entries while storage is down.
        this.queue = [...batch, ...this.queue];
        this.log.error(`audit trail append failed (${batch.length} entries kept): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.flushing = null;
  }

  /** Resolves when everything published so far is stored. */
  async flush(): Promise<void> {
    while (this.flushing || this.queue.length) {
      if (!this.flushing) this.flushing = this.drain();
      await this.flushing;
    }
  }

  /** At shutdown, after the stages have stopped: store what is queued, sign the head. */
  async shutdown(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    await this.trail.checkpoint();
  }
}
