import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { existsSync, FSWatcher, readFileSync, watch } from 'node:fs';
import * as path from 'node:path';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import type { Alert } from '../domain/alert';
import { Metrics } from '../ops/metrics';
import { AlertEvent, AlertEvents } from '../platform/alert-events';
import { AuditEvents } from '../platform/audit-events';
import { RuleSetService } from '../rules/rule-set.service';
import { AlertDeliveryRepository } from '../storage/alert-delivery.repository';
import { AlertsRepository } from '../storage/alerts.repository';
import { EventsRepository } from '../storage/events.repository';
import { RuleHistoryRepository } from '../storage/rule-history.repository';
import { AlertingConfig, formatAlertingProblem, readAlertingConfig } from './alerting/alerting-config';
import { AlertDispatcher } from './delivery/dispatcher';
import { DeliveryWorker } from './delivery/delivery-worker';
import type { AlertsTopicProducer } from './delivery/integrations';
import type { Evidence } from './delivery/notification';
import { readSilence, Silence, silenceState } from './delivery/silences';

/** What runs when no alerting file exists: alerts stay in the API and the log. */
const BUILT_IN = 'route:\n  receiver: log-only\nreceivers:\n  - name: log-only\n';

export interface AlertingStatus {
  file: string;
  source: 'file' | 'built-in';
  loadedAt: string;
  receivers: string[];
  lastReload: { ok: boolean; at: string; problems: string[] };
}

/** Evidence of an alert from its stored event: scores, the alert concept's features and tokens. */
export function evidenceOf(alert: Alert, event: Record<string, unknown> | null, ruleSet: string): Evidence | null {
  if (!event) return null;
  const concepts = (event.concepts ?? {}) as Record<string, { score: number; threshold: number; flagged: boolean; features?: Array<{ feature: number; label: string; contribution?: number; activation: number }>; tokens?: Array<{ index: number; token: string; activation: number; message?: number }> }>;
  const wanted = alert.labels.concept && concepts[alert.labels.concept] ? [alert.labels.concept] : Object.keys(concepts).filter((c) => concepts[c].flagged);
  return {
    concepts: Object.fromEntries(Object.entries(concepts).map(([c, r]) => [c, { score: r.score, threshold: r.threshold, flagged: r.flagged }])),
    features: wanted.flatMap((c) => (concepts[c].features ?? []).slice(0, 5).map((f) => ({ concept: c, feature: f.feature, label: f.label, contribution: f.contribution ?? null, activation: f.activation }))),
    tokens: wanted.flatMap((c) => (concepts[c].tokens ?? []).slice(0, 10).map((t) => ({ concept: c, index: t.index, token: t.token, contribution: t.activation, message: t.message ?? null }))),
    rule: { name: alert.rule, set: ruleSet },
    pack: (event.pack as { id: string; version: string }) ?? null,
  };
}

/**
 * Alert delivery through alerting.yaml: routing, grouping, silences, inhibition, acknowledgements
 * and the receivers, off the ingest path. Subscribes to the alert events (raising an alert never
 * waits for a receiver); the dispatcher writes notifications to the log in ClickHouse and the
 * delivery worker sends them from there, retrying with backoff, across restarts.
 */
@Injectable()
export class AlertsService implements OnApplicationBootstrap {
  private readonly log = new Logger('alerts');
  private config: AlertingConfig;
  private silenceList: Silence[] = [];
  readonly dispatcher: AlertDispatcher;
  readonly worker: DeliveryWorker;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private kafka: AlertsTopicProducer | null = null;
  private lastRefresh = 0;
  private readonly pending = new Set<Promise<unknown>>();
  status: AlertingStatus;

  constructor(
    @Inject(APP_CONFIG) private readonly cfg: AppConfig,
    private readonly events: AlertEvents,
    private readonly repo: AlertDeliveryRepository,
    alerts: AlertsRepository,
    eventsRepo: EventsRepository,
    rules: RuleSetService,
    ruleHistory: RuleHistoryRepository,
    private readonly metrics: Metrics,
    private readonly audit: AuditEvents,
  ) {
    const file = cfg.alerting.file;
    const exists = existsSync(file);
    const { config, problems } = readAlertingConfig(exists ? file : '(built-in)', exists ? readFileSync(file, 'utf8') : BUILT_IN, process.env);
    if (!config) throw new Error(`the alerting file ${file} is invalid:\n  ${problems.map(formatAlertingProblem).join('\n  ')}`);
    for (const p of problems) this.log.warn(formatAlertingProblem(p));
    if (!exists) this.log.warn(`no alerting file at ${file}: alerts go to the API and the log only (see alerting.yaml in the repository for an example)`);
    this.config = config;
    const at = new Date().toISOString();
    this.status = { file, source: exists ? 'file' : 'built-in', loadedAt: at, receivers: [...config.receivers.keys()], lastReload: { ok: true, at, problems: problems.map(formatAlertingProblem) } };
    const log = (level: 'log' | 'warn' | 'error', msg: string): void => this.log[level](msg);
    this.worker = new DeliveryWorker(
      repo, () => this.config, cfg.alerting.instanceId, { kafka: { send: (t, m) => this.sendKafka(t, m) } },
      { maxAttempts: cfg.alerting.maxAttempts, baseDelayMs: cfg.alerting.retryBaseMs, maxDelayMs: 5 * 60_000, concurrency: 16, pollMs: Math.min(500, cfg.alerting.tickMs), takeoverMs: cfg.alerting.takeoverMs },
      log,
      (receiver, integration, outcome, seconds) => {
        metrics.notifications.inc({ receiver, integration: integration.replace(/\[\d+\]$/, ''), outcome });
        metrics.notificationSeconds.observe({ outcome }, seconds);
      },
    );
    this.dispatcher = new AlertDispatcher({
      repo,
      config: () => this.config,
      // the rule set in force when the alert was raised (a reload since then may have changed the rule)
      evidence: async (a) => evidenceOf(a, await eventsRepo.get({ tenants: [a.tenant] }, a.event_id), (await ruleHistory.hashAt(cfg.alerting.instanceId, a.starts_at)) ?? rules.state.hash),
      latestAlerts: (fps) => alerts.latestOf(fps),
      silences: () => this.silenceList,
      instance: cfg.alerting.instanceId,
      externalURL: cfg.alerting.externalUrl,
      log,
      onQueued: () => this.worker.wake(),
    });
  }

  /** Kafka ingestion hands its producer over once connected (kafka_configs receivers). */
  setTopicProducer(p: AlertsTopicProducer | null): void {
    this.kafka = p;
  }

  private async sendKafka(topic: string, messages: Array<{ key: string; value: string }>): Promise<void> {
    if (!this.kafka) throw new Error('Kafka is not connected (set KAFKA_BROKERS)');
    await this.kafka.send(topic, messages);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.loadSilences();
    await this.dispatcher.resume();
    this.unsubscribe = this.events.subscribe((ev) => this.track(this.onAlertEvent(ev)));
    const loop = (): void => {
      this.timer = setTimeout(() => void this.tick().finally(() => this.timer && loop()), this.cfg.alerting.tickMs);
      this.timer.unref();
    };
    this.timer = setTimeout(() => undefined, 0);
    loop();
    this.worker.start();
    if (this.cfg.alerting.watch && this.status.source === 'file') this.watch();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private onAlertEvent(ev: AlertEvent): Promise<void> {
    const p = ev.type === 'raised' ? this.dispatcher.raised(ev.alerts) : this.dispatcher.resolved(ev.alerts);
    return p.catch((e: Error) => this.log.error(`alert delivery could not record ${ev.alerts.length} alert(s): ${e.message}`));
  }

  private async tick(): Promise<void> {
    try {
      if (Date.now() - this.lastRefresh >= 2000) {
        this.lastRefresh = Date.now();
        await this.loadSilences();
        await this.dispatcher.refresh();
      }
      await this.dispatcher.tick();
      this.metrics.alertSeries.set(this.dispatcher.snapshot().series);
    } catch (e) {
      this.log.warn(`alert dispatch tick failed: ${(e as Error).message}`);
    }
  }

  private async loadSilences(): Promise<void> {
    this.silenceList = (await this.repo.silences()).flatMap((r) => {
      try {
        const s: Silence = {
          id: r.id, matchers: JSON.parse(r.matchers), startsAt: r.starts_at, endsAt: r.ends_at, createdBy: r.created_by, comment: r.comment,
          recurring: r.recurring ? JSON.parse(r.recurring) : null, createdAt: r.created_at, updatedAt: r.updated_at,
        };
        return [s];
      } catch {
        return [];
      }
    });
  }

  // --- the alerting file ------------------------------------------------------------------------

  reload(trigger: 'watch' | 'api'): AlertingStatus {
    const file = this.cfg.alerting.file;
    const at = new Date().toISOString();
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.status = { ...this.status, lastReload: { ok: false, at, problems: [`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] } };
      this.log.error(`alerting file ${file} could not be read (${trigger}); keeping the last good configuration`);
      return this.status;
    }
    const { config, problems } = readAlertingConfig(file, text, process.env);
    const listed = problems.map(formatAlertingProblem);
    if (!config) {
      this.status = { ...this.status, lastReload: { ok: false, at, problems: listed } };
      this.log.error(`alerting file rejected (${trigger}); keeping the last good configuration:\n  ${listed.join('\n  ')}`);
      return this.status;
    }
    this.config = config;
    this.status = { file, source: 'file', loadedAt: at, receivers: [...config.receivers.keys()], lastReload: { ok: true, at, problems: listed } };
    this.log.log(`alerting file reloaded (${trigger}): ${config.receivers.size} receivers`);
    return this.status;
  }

  private watch(): void {
    const file = this.cfg.alerting.file;
    try {
      // The directory, not the file: editors replace a file by renaming a new one over it.
      this.watcher = watch(path.dirname(file), (_e, name) => {
        if (name && name.toString() !== path.basename(file)) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          const st = this.reload('watch');
          this.audit.record('alerting file watch', st.lastReload.ok ? 'alerting.reload' : 'alerting.reload.rejected', st.file, '', { problems: st.lastReload.problems, receivers: st.receivers });
        }, 300);
      });
      this.watcher.on('error', (e) => this.log.warn(`watching ${file} stopped: ${e.message}`));
    } catch (e) {
      this.log.warn(`cannot watch ${file}: ${(e as Error).message}`);
    }
  }

  currentConfig(): AlertingConfig {
    return this.config;
  }

  // --- acknowledgements and silences (the API) --------------------------------------------------

  async acknowledge(alert: { tenant: string; fingerprint: string; alert_id: string }, acked: boolean, actor: string, comment: string): Promise<void> {
    await this.repo.recordAck({ tenant: alert.tenant, fingerprint: alert.fingerprint, alert_id: alert.alert_id, acked, actor, comment, at: new Date().toISOString() });
    await this.dispatcher.refresh();
  }

  async saveSilence(body: unknown, who: string, existingId?: string, check: (s: Silence) => void = () => undefined): Promise<Silence> {
    const existing = existingId ? this.silenceList.find((s) => s.id === existingId) : undefined;
    const s = readSilence(body, who, new Date(), existing);
    check(s);
    await this.repo.saveSilence({
      id: s.id, matchers: JSON.stringify(s.matchers), starts_at: s.startsAt, ends_at: s.endsAt, created_by: s.createdBy, comment: s.comment,
      recurring: s.recurring ? JSON.stringify(s.recurring) : '', created_at: s.createdAt, updated_at: s.updatedAt,
    });
    await this.loadSilences();
    await this.dispatcher.refresh();
    return s;
  }

  /** Expires a silence now; false when there is no such silence. */
  async expireSilence(id: string): Promise<Silence | null> {
    await this.loadSilences();
    const s = this.silenceList.find((x) => x.id === id);
    if (!s) return null;
    const now = new Date();
    if (silenceState(s, now) !== 'expired') {
      const endsAt = now.toISOString();
      const startsAt = Date.parse(s.startsAt) > now.getTime() ? endsAt : s.startsAt;
      await this.repo.saveSilence({
        id: s.id, matchers: JSON.stringify(s.matchers), starts_at: startsAt, ends_at: endsAt, created_by: s.createdBy, comment: s.comment,
        recurring: s.recurring ? JSON.stringify(s.recurring) : '', created_at: s.createdAt, updated_at: endsAt,
      });
      await this.loadSilences();
      await this.dispatcher.refresh();
    }
    return this.silenceList.find((x) => x.id === id) ?? s;
  }

  history(tenant: string, fingerprint: string): Promise<unknown[]> {
    return this.repo.history([tenant], fingerprint);
  }

  /** A one-off notification through the receivers these labels route to (see AlertDispatcher.announce). */
  announce(labels: Record<string, string>, annotations: Record<string, string>, key: string): Promise<number> {
    return this.dispatcher.announce(labels, annotations, key);
  }

  /** Every silence with its state, when it last muted an alert, and whether it is stale. */
  async listSilences(): Promise<Array<Record<string, unknown>>> {
    await this.loadSilences();
    const now = new Date();
    const last = await this.repo.silenceLastMatched(this.silenceList.map((s) => s.id));
    const staleMs = this.cfg.alerting.silenceStaleDays * 86_400_000;
    return this.silenceList.map((s) => {
      const state = silenceState(s, now);
      const lastMatchedAt = last.get(s.id) ?? null;
      const since = Date.parse(lastMatchedAt ?? s.startsAt);
      return {
        id: s.id, matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment, recurring: s.recurring,
        createdAt: s.createdAt, updatedAt: s.updatedAt, status: { state }, lastMatchedAt,
        stale: state === 'active' && now.getTime() - since >= staleMs,
      };
    });
  }

  /** Waits for alert events being recorded and deliveries in flight (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
    await this.worker.idle();
  }

  /**
   * Stops taking alert events (after the pipeline has drained), records those in flight, and gives
   * deliveries in flight a few seconds; what is still pending stays in the log for the next start.
   */
  async shutdown(deadlineMs = 5000): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await Promise.all([...this.pending]).catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce) clearTimeout(this.debounce);
    await this.worker.stop(deadlineMs);
  }
}
