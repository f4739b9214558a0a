import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import type { ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import { PipelineService } from '../ingest/pipeline.service';
import { decide, GuardDecision, GuardPolicy } from './guard-policy';
import { GuardPolicyService } from './guard-policy.service';

/** The guard's own bound is reached: the caller retries shortly (429), the async queue is not involved. */
export class GuardBusy extends Error {
  readonly code = 'GUARD_BUSY';
}

export interface GuardOutcome {
  /** The event as recorded: the caller's, with `metadata.guard = {verdict, policy_hash}`. */
  event: ProbeEvent;
  scored: ScoredEvent;
  decision: GuardDecision;
  policy: GuardPolicy;
  /** In the accept log before the answer (false only when the log could not be written). */
  durable: boolean;
}

/**
 * The inline guard: one conversation scored in the priority lane (never in the pipeline queue,
 * never refused because that queue is full), decided by the active policy, then recorded like any
 * event: durable in the accept log before the answer, stored, evaluated by the rules and alerted
 * on by the pipeline afterwards. At most `PROBEWATCH_GUARD_MAX_IN_FLIGHT` requests at once.
 */
@Injectable()
export class GuardService {
  private inFlight = 0;

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, private readonly pipeline: PipelineService, private readonly policies: GuardPolicyService) {}

  async check(event: ProbeEvent, receivedAt: Date): Promise<GuardOutcome> {
    if (this.inFlight >= this.cfg.guard.maxInFlight) throw new GuardBusy(`${this.inFlight} guard requests in flight`);
    this.inFlight++;
    try {
      const { scored, view } = await this.pipeline.scoreNow(event);
      const policy = this.policies.policy;
      const decision = decide(policy, scored);
      // `metadata.guard` is the guard's: a caller's value under that key is replaced.
      const recorded: ProbeEvent = { ...event, metadata: { ...(event.metadata ?? {}), guard: { verdict: decision.verdict, policy_hash: policy.hash } } };
      const durable = await this.pipeline.recordScored(recorded, scored, view, receivedAt);
      return { event: recorded, scored, decision, policy, durable };
    } finally {
      this.inFlight--;
    }
  }
}
