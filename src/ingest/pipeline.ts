/**
 * ingest -> probe -> rules -> alerts -> storage for accepted events. Nest-free: the service
 * wrapper supplies the stages. The queue is bounded; `submit` refuses a whole request it cannot
 * hold (the API answers 429), so nothing is dropped silently and memory stays bounded.
 */
import type { Alert } from '../domain/alert';
import type { Channel, ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import type { Metrics } from '../ops/metrics';
import type { AlertEvent } from '../platform/alert-events';
import type { RuleOutcome } from '../rules/rule-evaluator';

export type { Channel } from '../domain/event';

export interface PipelineStages {
  score(event: ProbeEvent): Promise<ScoredEvent>;
  evaluate(event: ProbeEvent, scored: ScoredEvent): RuleOutcome;
  store(event: ProbeEvent, scored: ScoredEvent, alerts: Alert[], receivedAt: Date): Promise<void>;
  /** Publishes "alert raised" once the alerts are stored; must not wait for any receiver. */
  raise(event: AlertEvent): void;
  deadLetter(event: ProbeEvent, reason: string, channel: Channel): Promise<void>;
  /** Called when every event in flight is waiting for storage and none is queued: flush now. */
  flushHint?(): void;
  log(level: 'log' | 'warn' | 'error', msg: string): void;
}

/**
 * What became of one event: stored (with the alerts it raised), dead-lettered (with why), or
 * neither (`unsettled`: the dead letter itself could not be written, e.g. during shutdown), in
 * which case its source must keep it (the accept log replays it, Kafka redelivers it).
 */
export type EventOutcome = { status: 'stored'; alerts: Alert[] } | { status: 'dead_lettered'; reason: string } | { status: 'unsettled'; reason: string };

export interface PipelineItem {
  event: ProbeEvent;
  receivedAt: Date;
  channel: Channel;
  /** Called once with the final outcome (Kafka collects it; the accept log settles the record). */
  done?: (o: EventOutcome) => void;
  /** Already scored (the inline guard): the probe stage is skipped. */
  scored?: ScoredEvent;
}

type Item = PipelineItem;

export class QueueFull extends Error {
  readonly code = 'QUEUE_FULL';
  constructor(readonly retryAfterSeconds: number) {
    super('ingest queue is full');
  }
}

export class Pipeline {
  private readonly queue: Item[] = [];
  private running = 0;
  private storing = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  /** Room promised to requests that are being made durable (accept log) before they are queued. */
  private reserved = 0;

  constructor(private readonly stages: PipelineStages, private readonly metrics: Metrics, private readonly capacity: number, private readonly concurrency: number) {}

  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.running + this.storing;
  }

  /** All or nothing: either every event is queued or QueueFull is thrown. */
  submit(events: ProbeEvent[], receivedAt: Date = new Date()): void {
    this.reserve(events.length);
    this.enqueueReserved(events.map((event) => ({ event, receivedAt, channel: 'http' })));
  }

  /**
   * Promises room for `n` events or throws QueueFull (all or nothing). The caller then makes
   * them durable and calls `enqueueReserved`, or `release` when that failed.
   */
  reserve(n: number): void {
    if (this.stopped) throw new QueueFull(5);
    const ahead = this.queue.length + this.reserved;
    if (ahead + n > this.capacity) {
      // Rough time to drain what is ahead, at least one second.
      throw new QueueFull(Math.max(1, Math.ceil(ahead / Math.max(1, this.concurrency * 4))));
    }
    this.reserved += n;
  }

  release(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Queues items whose room was reserved; never refuses (not even while stopping: they are durable). */
  enqueueReserved(items: PipelineItem[]): void {
    this.queue.push(...items);
    this.reserved = Math.max(0, this.reserved - items.length);
    this.metrics.queueDepth.set(this.queue.length);
    this.pump();
  }

  /**
   * For consumers that acknowledge upstream (Kafka): queue the events, waiting for room instead of
   * refusing, and resolve with each event's outcome once it is durably stored or dead-lettered.
   */
  async process(events: ProbeEvent[], receivedAt: Date | Date[] = new Date(), waitForRoom: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)), channel: Channel = 'kafka'): Promise<EventOutcome[]> {
    const outcomes: Array<Promise<EventOutcome>> = [];
    for (const [i, event] of events.entries()) {
      while (!this.stopped && this.queue.length + this.reserved >= this.capacity) await waitForRoom(50);
      if (this.stopped) throw new Error('pipeline stopped');
      const at = Array.isArray(receivedAt) ? receivedAt[i] : receivedAt;
      outcomes.push(new Promise<EventOutcome>((done) => this.queue.push({ event, receivedAt: at, channel, done })));
      this.metrics.queueDepth.set(this.queue.length);
      this.pump();
    }
    return Promise.all(outcomes);
  }

  /**
   * An event scored outside the queue (the inline guard): rules, storage and alerts as for any
   * event, at once. It takes a storage slot, never a probe slot, and is never refused: the
   * guard bounds its own requests, and a full queue must not hold back its record.
   */
  recordScored(item: PipelineItem & { scored: ScoredEvent }): void {
    this.storing++;
    this.metrics.inflight.set(this.running + this.storing);
    void this.run(item);
  }

  /**
   * Probe slots (`concurrency`) hold an event only while it is scored; an event waiting for its
   * batched write holds a storage slot instead (at most `capacity` of them, so memory stays
   * bounded when storage is down: the slots fill, intake stops, the API answers 429).
   */
  private pump(): void {
    while (this.running < this.concurrency && this.storing < this.capacity && this.queue.length > 0) {
      const item = this.queue.shift() as Item;
      this.running++;
      this.metrics.inflight.set(this.running + this.storing);
      void this.run(item);
    }
  }

  private async run(item: Item): Promise<void> {
    let storing = item.scored !== undefined;
    try {
      let outcome: EventOutcome;
      try {
        outcome = await this.runStages(item, () => {
          if (!storing) {
            storing = true;
            this.running--;
            this.storing++;
            this.pump();
          }
          // Nothing else is being scored or queued: write now rather than at the writer's interval
          // (a Kafka chunk commits only when its last event is stored).
          if (this.running === 0 && this.queue.length === 0) this.stages.flushHint?.();
        });
      } catch (e) {
        // A failure no stage anticipated: this event goes to the dead letters; the service goes on.
        outcome = await this.deadLetterFailed(item, 'pipeline', e);
      }
      item.done?.(outcome);
    } finally {
      if (storing) this.storing--;
      else this.running--;
      this.metrics.inflight.set(this.running + this.storing);
      this.metrics.queueDepth.set(this.queue.length);
      if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }

  /** Records the event in the dead letters with the failed step; `unsettled` if even that fails. */
  private async deadLetterFailed(item: Item, step: string, e: unknown): Promise<EventOutcome> {
    const message = e instanceof Error ? e.message : String(e);
    const reason = `${step} failed: ${message.slice(0, 500)}`;
    this.metrics.failed.inc();
    this.stages.log('error', `event ${item.event.id} (${item.channel}): ${step} failed (${e instanceof Error ? e.name : 'error'}); dead-lettered`);
    try {
      await this.stages.deadLetter(item.event, reason, item.channel);
      return { status: 'dead_lettered', reason };
    } catch (dl) {
      this.stages.log('error', `event ${item.event.id}: the dead letter could not be written either (${(dl as Error).message}); kept for replay`);
      return { status: 'unsettled', reason };
    }
  }

  private async runStages(item: Item, toStorage: () => void): Promise<EventOutcome> {
    const { event, receivedAt } = item;
    const t0 = performance.now();
    let scored: ScoredEvent;
    if (item.scored) {
      scored = item.scored;
    } else {
      try {
        scored = await this.stages.score(event);
      } catch (e) {
        return this.deadLetterFailed(item, 'probe', e);
      }
      this.metrics.probeSeconds.observe((performance.now() - t0) / 1000);
    }
    let outcome: RuleOutcome;
    try {
      outcome = this.stages.evaluate(event, scored);
    } catch (e) {
      return this.deadLetterFailed(item, 'rules', e);
    }
    for (const err of outcome.errors) {
      this.metrics.ruleErrors.inc({ rule: err.rule });
      this.stages.log('warn', `rule '${err.rule}' failed on event ${event.id}: ${err.message}`);
    }
    // Storage errors are retried inside the writer; this resolves once everything is durable.
    // What rejects is a row that cannot be built or a writer that is closed.
    let stored: Promise<void>;
    try {
      stored = this.stages.store(event, scored, outcome.alerts, receivedAt);
    } catch (e) {
      return this.deadLetterFailed(item, 'storage', e);
    }
    toStorage();
    try {
      await stored;
    } catch (e) {
      return this.deadLetterFailed(item, 'storage', e);
    }
    this.metrics.scored.inc();
    const e2e = (Date.now() - receivedAt.getTime()) / 1000;
    this.metrics.e2eSeconds.observe(e2e);
    this.metrics.e2eQuantiles.observe(e2e);
    for (const a of outcome.alerts) {
      this.metrics.alerts.inc({ rule: a.rule, severity: a.severity });
      this.stages.log('warn', `ALERT ${a.severity} "${a.rule}" tenant=${a.tenant} event=${a.event_id} value=${a.value.toFixed(3)} fingerprint=${a.fingerprint}`);
    }
    if (outcome.alerts.length) this.stages.raise({ type: 'raised', alerts: outcome.alerts, origin: 'event', channel: item.channel });
    return { status: 'stored', alerts: outcome.alerts };
  }

  /** Nothing queued, in flight, or being made durable to be queued. */
  private get idle(): boolean {
    return this.running === 0 && this.storing === 0 && this.queue.length === 0 && this.reserved === 0;
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  drain(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.drain();
  }
}
