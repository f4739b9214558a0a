import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';

import { actorOf, Caller, can } from '../domain/access';
import type { FieldError } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import type { ConceptId } from '../domain/concepts';
import { validateEvent } from '../ingest/event-contract';
import { withoutContent } from '../ingest/events.controller';
import { decodeEventsBody } from '../ingest/http-body';
import { PipelineService } from '../ingest/pipeline.service';
import { Metrics } from '../ops/metrics';
import { CallerOf, Requires } from '../platform/access.decorators';
import { GuardPolicyService, GuardPolicyStatus } from './guard-policy.service';
import { GuardBusy, GuardOutcome, GuardService } from './guard.service';

/**
 * The guard takes the event contract of POST /v1/events with two conveniences for inline callers:
 * without `id` one is made (`guard-<uuid>`, returned), without `timestamp` the time of the request.
 */
function withGuardDefaults(value: unknown, receivedAt: Date): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  return { ...v, id: v.id === undefined ? `guard-${randomUUID()}` : v.id, timestamp: v.timestamp === undefined ? receivedAt.toISOString() : v.timestamp };
}

/** The deciding concept's evidence; its token text only for callers allowed raw content (as GET /v1/events/:id). */
function evidenceOf(scored: ScoredEvent, concept: ConceptId, withContent: boolean): Record<string, unknown> {
  const r = scored.concepts[concept];
  const evidence = { concept, span: r.span ?? null, ...(r.view ? { view: r.view } : {}), tokens: r.tokens ?? [], features: r.features };
  return withContent ? evidence : { ...(withoutContent({ concepts: { [concept]: evidence } }).concepts as Record<string, Record<string, unknown>>)[concept], content_withheld: true };
}

@Controller('v1/guard')
export class GuardController {
  constructor(private readonly guard: GuardService, private readonly policies: GuardPolicyService, private readonly pipeline: PipelineService, private readonly metrics: Metrics) {}

  /**
   * A synchronous verdict on one conversation: allow, flag or block under the active policy, with
   * each concept's score, thresholds and action, and the deciding concept's evidence. Answered once
   * the event is durable (accept log); it is then stored and run through the rules like any event.
   */
  @Requires('guard:check')
  @Post()
  @HttpCode(200)
  async check(@Req() req: Request, @Res({ passthrough: true }) res: Response, @CallerOf() caller: Caller): Promise<unknown> {
    const t0 = performance.now();
    const receivedAt = new Date();
    const refuse = (status: number, error: string, errors: FieldError[], message: string): unknown => {
      this.metrics.guardRequests.inc({ verdict: 'invalid' });
      res.status(status);
      return { error, errors, message };
    };
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const decoded = decodeEventsBody(req.headers['content-type'], body);
    if (!decoded.ok) return refuse(decoded.status, decoded.error, [{ field: decoded.field, message: decoded.message }], decoded.message);
    if (decoded.batch) return refuse(400, 'invalid_batch', [{ field: 'body', message: 'send one event: the guard answers for one conversation' }], 'send one event');
    let v: ReturnType<typeof validateEvent>;
    try {
      v = validateEvent(withGuardDefaults(decoded.items[0].value, receivedAt), this.pipeline.eventLimits);
    } catch (e) {
      v = { ok: false, errors: [{ field: '', message: `could not be validated (${(e as Error).name})` }] };
    }
    const errors = v.ok ? [] : v.errors;
    // A tenant-scoped key guards only its own tenants' conversations (the rule of POST /v1/events).
    if (v.ok && caller.tenants !== null && !caller.tenants.includes(v.event.tenant)) errors.push({ field: 'tenant', message: 'this key may not write events of this tenant' });
    if (!v.ok || errors.length) return refuse(400, 'invalid_event', errors, 'the event is invalid; see errors');

    let out: GuardOutcome;
    try {
      out = await this.guard.check(v.event, receivedAt);
    } catch (e) {
      if (!(e instanceof GuardBusy)) throw e;
      this.metrics.guardRequests.inc({ verdict: 'busy' });
      res.status(429).setHeader('Retry-After', '1');
      return { error: 'guard_busy', message: 'too many guard requests in flight; retry after the indicated delay', retry_after_seconds: 1 };
    }
    const { decision, policy, scored } = out;
    const seconds = (performance.now() - t0) / 1000;
    this.metrics.guardRequests.inc({ verdict: decision.verdict });
    this.metrics.guardSeconds.observe(seconds);
    return {
      id: out.event.id,
      verdict: decision.verdict,
      concepts: decision.concepts,
      evidence: evidenceOf(scored, decision.deciding, can(caller, 'events:content')),
      policy: { hash: policy.hash, source: this.policies.status.source },
      pack: scored.pack,
      tokens: scored.tokens,
      truncated: scored.truncated,
      recorded: out.durable ? 'durable' : 'not_durable',
      latency_ms: Math.round(seconds * 10_000) / 10,
    };
  }

  /** The active policy (as written and its hash), where it came from, and the last reload with its problems at file:line:col. */
  @Requires('alerting:read')
  @Get('policy')
  policy(): GuardPolicyStatus {
    return this.policies.status;
  }

  /**
   * Reads the policy file now, without waiting for the file watch (a mounted ConfigMap or a network
   * file system may not report changes). A broken file is refused at file:line:col and the last good
   * policy stays, as with the watch; the answer is the status either way, and the audit trail
   * records who asked.
   */
  @Requires('alerting:reload')
  @Post('reload')
  @HttpCode(200)
  reload(@CallerOf() caller: Caller): GuardPolicyStatus {
    return this.policies.reload('api', actorOf(caller));
  }
}
