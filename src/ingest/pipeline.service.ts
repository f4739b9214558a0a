import { Inject, Injectable, Logger } from '@nestjs/common';

import type { Alert } from '../alerts/alert';
import { AlertsService } from '../alerts/alerts.service';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { ProbeEngine, ScoredEvent } from '../probe/probe-engine';
import { evaluateEventRules, RuleOutcome } from '../rules/rule-evaluator';
import { RuleSetService } from '../rules/rule-set.service';
import { AlertsRepository } from '../storage/alerts.repository';
import { BatchWriter } from '../storage/batch-writer';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { EventsRepository } from '../storage/events.repository';
import type { ProbeEvent } from './event-contract';
import { Pipeline } from './pipeline';

/** Wires the pipeline's stages to the other modules, in flow order. */
@Injectable()
export class PipelineService {
  private readonly log = new Logger('pipeline');
  readonly pipeline: Pipeline;
  /** Set by the Kafka module when it runs: where HTTP-ingested events' alerts are published. */
  alertSink: ((alerts: Alert[]) => Promise<void>) | null = null;

  constructor(
    @Inject(APP_CONFIG) cfg: AppConfig,
    private readonly engine: ProbeEngine,
    private readonly rules: RuleSetService,
    private readonly alerts: AlertsService,
    private readonly events: EventsRepository,
    private readonly alertsRepo: AlertsRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly writer: BatchWriter,
    metrics: Metrics,
  ) {
    this.pipeline = new Pipeline(
      {
        score: (e) => this.engine.score(e),
        evaluate: (e, s) => this.evaluate(e, s),
        store: (e, s, a, at) => this.store(e, s, a, at),
        notify: (a: Alert[]) => this.alerts.deliver(a),
        deadLetter: (e, reason) => this.deadLetters.record([{ channel: 'http', reason, errors: [], payload: JSON.stringify(e), eventId: e.id, tenant: e.tenant }]),
        log: (level, msg) => this.log[level](msg),
        flushHint: () => {
          if (this.writer.healthy) void this.writer.flush(); // never shortcut the backoff of a failing store
        },
        publish: (a) => (this.alertSink ? this.alertSink(a) : Promise.resolve()),
      },
      metrics,
      cfg.queueCapacity,
      cfg.pipelineConcurrency,
    );
  }

  private evaluate(event: ProbeEvent, scored: ScoredEvent): RuleOutcome {
    const start = performance.now();
    const outcome = evaluateEventRules(this.rules.rules, event, scored);
    this.rules.eventRulesRan(Date.now(), performance.now() - start, outcome.errors);
    return outcome;
  }

  private async store(event: ProbeEvent, scored: ScoredEvent, alerts: Alert[], receivedAt: Date): Promise<void> {
    await Promise.all([this.events.store(event, scored, receivedAt), this.alertsRepo.store(alerts, event.timestamp)]);
  }
}
