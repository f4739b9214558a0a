import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';

import type { Alert } from '../domain/alert';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig, policyFor } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { AlertEvents } from '../platform/alert-events';
import { ProbeEngine } from '../probe/probe-engine';
import { ScoredEvent } from '../domain/scored-event';
import { evaluateEventRules, RuleOutcome } from '../rules/rule-evaluator';
import { RuleSetService } from '../rules/rule-set.service';
import { AlertsRepository } from '../storage/alerts.repository';
import { BatchWriter } from '../storage/batch-writer';
import { PolicyView, policyView, Pseudonyms, redactScored } from '../storage/content-policy';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { EventsRepository } from '../storage/events.repository';
import { ReplayRepository } from '../storage/replay.repository';
import { AcceptedRecord, AcceptLog } from './accept-log';
import type { EventLimits } from './event-contract';
import type { ProbeEvent } from '../domain/event';
import { Channel, EventOutcome, Pipeline } from './pipeline';

/** The accept log could not make a request durable: it is refused whole (503), nothing is queued. */
export class AcceptLogUnavailable extends Error {
  readonly code = 'ACCEPT_LOG_UNAVAILABLE';
}

const REPLAY_CHUNK = 256;

/** Wires the pipeline's stages to the other modules, in flow order; owns the accept log. */
@Injectable()
export class PipelineService implements OnModuleInit, OnApplicationBootstrap {
  private readonly log = new Logger('pipeline');
  readonly pipeline: Pipeline;
  private acceptLog: AcceptLog | null = null;
  private unsettled: AcceptedRecord[] = [];
  private replaying: Promise<void> | null = null;
  /**
   * The content policy's view of each event in flight (message spans, stored user id), computed
   * once beside the probe. Rules see the user id in its stored form, as the windowed rules do in
   * ClickHouse, so alert labels and annotations never carry the raw value; storage reuses the
   * spans instead of scanning the messages again.
   */
  private readonly views = new WeakMap<ProbeEvent, PolicyView>();

  constructor(
    @Inject(APP_CONFIG) private readonly cfg: AppConfig,
    private readonly engine: ProbeEngine,
    private readonly rules: RuleSetService,
    private readonly alertEvents: AlertEvents,
    private readonly events: EventsRepository,
    private readonly alertsRepo: AlertsRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly replayRepo: ReplayRepository,
    private readonly writer: BatchWriter,
    private readonly metrics: Metrics,
    private readonly pseudonyms: Pseudonyms,
  ) {
    this.pipeline = new Pipeline(
      {
        // Token evidence is masked under the content policy before anything else sees it: rules,
        // alert annotations, webhooks, the alerts topic and storage all get the masked copy.
        score: async (e) => {
          const policy = policyFor(cfg, e.tenant);
          const [scored, view] = await Promise.all([this.engine.score(e), policyView(e.messages, e.user, policy, this.pseudonyms.digest)]);
          this.views.set(e, view);
          return redactScored(e.messages, scored, policy, view.spans);
        },
        evaluate: (e, s) => this.evaluate(e, s),
        store: (e, s, a, at) => this.store(e, s, a, at),
        raise: (ev) => this.alertEvents.publish(ev),
        deadLetter: (e, reason, channel) => this.deadLetter(e, reason, channel),
        log: (level, msg) => this.log[level](msg),
        flushHint: () => this.writer.flushSoon(),
      },
      metrics,
      cfg.queueCapacity,
      cfg.pipelineConcurrency,
    );
  }

  get limits(): AppConfig['limits'] {
    return this.cfg.limits;
  }

  get eventLimits(): EventLimits {
    return this.cfg.eventLimits;
  }

  async onModuleInit(): Promise<void> {
    const { log, unsettled } = await AcceptLog.open(this.cfg.acceptLogDir, (m) => this.log.warn(m));
    this.acceptLog = log;
    this.unsettled = unsettled;
  }

  /** Scores what an earlier run accepted but did not store; the service serves meanwhile. */
  onApplicationBootstrap(): void {
    const records = this.unsettled;
    this.unsettled = [];
    if (records.length) this.replaying = this.replay(records).catch((e: Error) => this.log.error(`replay of the accept log stopped: ${e.message}; the rest replays at the next start`));
  }

  /**
   * Makes the events durable, then queues them: resolves once a crash can no longer lose them.
   * Throws QueueFull (nothing taken) or AcceptLogUnavailable (nothing taken).
   */
  async accept(events: ProbeEvent[], receivedAt: Date = new Date()): Promise<void> {
    if (events.length === 0) return;
    this.pipeline.reserve(events.length);
    const log = this.acceptLog;
    let seqs: number[];
    const t0 = performance.now();
    try {
      if (!log) throw new Error('accept log not open');
      seqs = await log.append(events, receivedAt);
    } catch (e) {
      this.pipeline.release(events.length);
      this.log.error(`accept log append failed: ${(e as Error).message}`);
      throw new AcceptLogUnavailable((e as Error).message);
    }
    this.metrics.acceptLogSyncSeconds.observe((performance.now() - t0) / 1000);
    this.pipeline.enqueueReserved(events.map((event, i) => ({ event, receivedAt, channel: 'http', done: (o) => this.settle(seqs[i], o) })));
  }

  /**
   * The inline guard's lane: scores now, ahead of the queue (the batcher's priority lane), with the
   * evidence masked under the tenant's content policy as the pipeline masks it. Stores nothing.
   */
  async scoreNow(event: ProbeEvent): Promise<{ scored: ScoredEvent; view: PolicyView }> {
    const policy = policyFor(this.cfg, event.tenant);
    const [raw, view] = await Promise.all([this.engine.score(event, { priority: true }), policyView(event.messages, event.user, policy, this.pseudonyms.digest)]);
    return { scored: await redactScored(event.messages, raw, policy, view.spans), view };
  }

  /**
   * Records an event `scoreNow` scored, like any accepted event: durable in the accept log (a crash
   * before it is stored replays it through the queue, scored again), then rules, storage and alerts
   * at once, neither waiting in the queue nor refused by a full one. True once durable; false when
   * the accept log could not take it (it is still stored, without that guarantee).
   */
  async recordScored(event: ProbeEvent, scored: ScoredEvent, view: PolicyView, receivedAt: Date): Promise<boolean> {
    let seq: number | null = null;
    try {
      if (!this.acceptLog) throw new Error('accept log not open');
      [seq] = await this.acceptLog.append([event], receivedAt);
    } catch (e) {
      this.log.error(`accept log append failed for guarded event ${event.id}: ${(e as Error).message}; storing it without the durability guarantee`);
    }
    this.views.set(event, view);
    this.pipeline.recordScored({ event, receivedAt, channel: 'http', scored, done: (o) => seq !== null && this.settle(seq, o) });
    return seq !== null;
  }

  private settle(seq: number, outcome: EventOutcome): void {
    if (outcome.status !== 'unsettled') this.acceptLog?.settle(seq);
  }

  private async replay(records: AcceptedRecord[]): Promise<void> {
    const stored = await this.replayRepo.storedEventKeys(records.map((r) => ({ tenant: r.event.tenant, id: r.event.id })));
    const todo: AcceptedRecord[] = [];
    for (const r of records) {
      if (stored.has(`${r.event.tenant}\u0000${r.event.id}`)) this.acceptLog?.settle(r.seq);
      else todo.push(r);
    }
    this.log.warn(`accept log: ${records.length} events accepted before the last stop were not settled; ${records.length - todo.length} were already stored, scoring the other ${todo.length}`);
    for (let i = 0; i < todo.length; i += REPLAY_CHUNK) {
      const chunk = todo.slice(i, i + REPLAY_CHUNK);
      const outcomes = await this.pipeline.process(chunk.map((r) => r.event), chunk.map((r) => new Date(r.receivedAt)), undefined, 'replay');
      outcomes.forEach((o, j) => this.settle(chunk[j].seq, o));
      this.metrics.replayed.inc(chunk.length);
    }
    if (todo.length) this.log.log(`accept log: replay done (${todo.length} events)`);
  }

  /** After the pipeline has drained: what is still unsettled stays on disk for the next start. */
  async closeAcceptLog(): Promise<void> {
    await this.replaying;
    await this.acceptLog?.close();
  }

  private deadLetter(e: ProbeEvent, reason: string, channel: Channel): Promise<void> {
    this.metrics.deadLettered.inc({ channel, field: '' });
    return this.deadLetters.record([{ channel: channel === 'kafka' ? 'kafka' : 'http', reason, errors: [], payload: safeJson(e), eventId: e.id, tenant: e.tenant }]);
  }

  private evaluate(event: ProbeEvent, scored: ScoredEvent): RuleOutcome {
    const start = performance.now();
    const view = this.views.get(event);
    const seen = view ? { ...event, user: view.user } : event;
    if (seen.user === undefined) delete seen.user;
    const outcome = evaluateEventRules(this.rules.rules, seen, scored);
    this.rules.eventRulesRan(Date.now(), performance.now() - start, outcome.errors);
    return outcome;
  }

  private async store(event: ProbeEvent, scored: ScoredEvent, alerts: Alert[], receivedAt: Date): Promise<void> {
    await Promise.all([this.events.store(event, scored, receivedAt, this.views.get(event)), this.alertsRepo.store(alerts, event.timestamp)]);
  }
}

/** JSON of a value that may be hostile; never throws. */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch (e) {
    return `[not serialisable: ${(e as Error).name}]`;
  }
}
