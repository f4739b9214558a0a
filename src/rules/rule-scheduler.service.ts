import type { ClickHouseClient } from '@clickhouse/client';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import type { Alert } from '../domain/alert';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { AlertEvents } from '../platform/alert-events';
import { AlertsRepository } from '../storage/alerts.repository';
import { clickhouseRuleStore } from '../storage/rule-store';
import { CLICKHOUSE } from '../storage/storage.module';
import type { SequenceRule, WindowedRule } from './rule-types';
import { RuleSetService } from './rule-set.service';
import { alignedTick, ScheduledEvaluator } from './scheduled-evaluator';


/**
 * Evaluates windowed and sequence rules on a schedule (@nestjs/schedule interval). Each rule runs
 * at ticks aligned to its `every`, so every instance evaluates the same windows and raises the same
 * alert ids; a missed tick is skipped, not replayed. One failing rule records its error and the
 * others go on.
 */
@Injectable()
export class RuleSchedulerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('rule-scheduler');
  private readonly evaluator: ScheduledEvaluator;
  private readonly lastTick = new Map<string, number>();
  private running: Promise<void> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly cfg: AppConfig,
    @Inject(CLICKHOUSE) client: ClickHouseClient,
    private readonly rules: RuleSetService,
    private readonly alertsRepo: AlertsRepository,
    private readonly alertEvents: AlertEvents,
    private readonly metrics: Metrics,
    private readonly registry: SchedulerRegistry,
  ) {
    this.evaluator = new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo));
    rules.changed.subscribe((set) => this.evaluator.retain(new Set(set.map((r) => r.name))));
  }

  onApplicationBootstrap(): void {
    this.registry.addInterval('rules', setInterval(() => void this.tick(), this.cfg.rulesTickMs));
  }

  onModuleDestroy(): void {
    if (this.registry.doesExist('interval', 'rules')) this.registry.deleteInterval('rules');
  }

  /** Runs the due rules once; overlapping ticks are skipped while one is still running. */
  tick(now = Date.now()): Promise<void> {
    if (this.running) return this.running;
    this.running = this.runDue(now).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runDue(now: number): Promise<void> {
    for (const rule of this.rules.rules) {
      if (rule.kind === 'event' || !rule.enabled) continue;
      const t = alignedTick(now, rule.everyMs);
      if ((this.lastTick.get(rule.name) ?? 0) >= t) continue;
      this.lastTick.set(rule.name, t);
      await this.evaluate(rule, t);
    }
  }

  private async evaluate(rule: WindowedRule | SequenceRule, tick: number): Promise<void> {
    const start = performance.now();
    let error: string | undefined;
    try {
      const alerts = rule.kind === 'windowed' ? await this.evaluator.evaluateWindowed(rule, tick) : await this.evaluator.evaluateSequence(rule, tick);
      if (alerts.length) await this.emit(alerts);
    } catch (e) {
      error = (e as Error).message.split('\n')[0];
      this.metrics.ruleErrors.inc({ rule: rule.name });
      this.log.warn(`rule '${rule.name}' failed at ${new Date(tick).toISOString()}: ${error}`);
    }
    const seconds = (performance.now() - start) / 1000;
    this.rules.health.ran(rule.name, new Date(), seconds * 1000, error);
    this.metrics.ruleEvalSeconds.observe({ kind: rule.kind }, seconds);
  }

  private async emit(alerts: Alert[]): Promise<void> {
    await this.alertsRepo.store(alerts);
    for (const a of alerts) if (!a.ends_at) this.metrics.alerts.inc({ rule: a.rule, severity: a.severity });
    for (const a of alerts) this.log.warn(`${a.ends_at ? 'resolved' : 'ALERT'} [${a.severity}] ${a.rule} ${JSON.stringify(a.labels)} value=${a.value}`);
    const raised = alerts.filter((a) => !a.ends_at);
    const resolved = alerts.filter((a) => a.ends_at);
    if (raised.length) this.alertEvents.publish({ type: 'raised', alerts: raised, origin: 'scheduled' });
    if (resolved.length) this.alertEvents.publish({ type: 'resolved', alerts: resolved, origin: 'scheduled' });
  }
}
