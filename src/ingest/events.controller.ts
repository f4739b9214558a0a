import { Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Request, Response } from 'express';

import { actorOf, Caller, can, scopeFor } from '../domain/access';
import { AuditEvents } from '../platform/audit-events';
import { CallerOf, Requires } from '../platform/access.decorators';
import { Metrics } from '../ops/metrics';
import { CONCEPT_IDS } from '../domain/concepts';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { EventsRepository } from '../storage/events.repository';
import { EventLimits, EventValidation, validateEvent } from './event-contract';
import { FieldError, ProbeEvent } from '../domain/event';
import { decodeEventsBody } from './http-body';
import { QueueFull } from './pipeline';
import { AcceptLogUnavailable, PipelineService } from './pipeline.service';
import { listFilters, QueryChecks } from './query-params';
import { SAFE_ID } from './field-checks';

type ItemResult = { index: number; id?: string; status: 'accepted' } | { index: number; id?: string; status: 'rejected'; errors: FieldError[] };

interface Rejected {
  raw: string;
  value: unknown;
  errors: FieldError[];
}

/** Validation is total by design; should it ever throw, the item is rejected (and dead-lettered), not a 500. */
function safeValidate(value: unknown, limits: EventLimits): EventValidation {
  try {
    return validateEvent(value, limits);
  } catch (e) {
    return { ok: false, errors: [{ field: '', message: `could not be validated (${(e as Error).name})` }] };
  }
}

function stringField(v: unknown, key: string): string | undefined {
  const f = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
  return typeof f === 'string' ? f.slice(0, 256) : undefined;
}

@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly pipeline: PipelineService,
    private readonly events: EventsRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly metrics: Metrics,
    private readonly audit: AuditEvents,
  ) {}

  /**
   * One event or an array. `202` only once every accepted event is durable (in the accept log);
   * each item is `accepted` or `rejected` with its fields. Every rejection, of an item or of the
   * whole body, is dead-lettered with the bytes that were sent.
   */
  @Requires('events:write')
  @Post()
  @HttpCode(202)
  async ingest(@Req() req: Request, @Res({ passthrough: true }) res: Response, @CallerOf() caller: Caller): Promise<unknown> {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const decoded = decodeEventsBody(req.headers['content-type'], body);
    const { maxBatchEvents } = this.pipeline.limits;
    if (!decoded.ok || decoded.items.length === 0 || decoded.items.length > maxBatchEvents) {
      const err = !decoded.ok ? decoded : { status: 400 as const, error: 'invalid_batch', field: 'body', message: `send between 1 and ${maxBatchEvents} events per request` };
      this.metrics.received.inc({ channel: 'http' });
      this.metrics.rejected.inc({ reason: err.error });
      await this.recordBody(body, err.error, [{ field: err.field, message: err.message }]);
      res.status(err.status);
      return { error: err.error, errors: [{ field: err.field, message: err.message }], message: err.message };
    }
    const results: ItemResult[] = [];
    const accepted: ProbeEvent[] = [];
    const rejected: Rejected[] = [];
    const seen = new Map<string, number>();
    decoded.items.forEach(({ value, raw }, index) => {
      const id = stringField(value, 'id');
      const v = safeValidate(value, this.pipeline.eventLimits);
      const errors = v.ok ? [] : v.errors;
      if (v.ok && seen.has(v.event.id)) errors.push({ field: 'id', message: `same id as item ${seen.get(v.event.id)} of this batch` });
      // A tenant-scoped key writes only its own tenants' events.
      if (v.ok && caller.tenants !== null && !caller.tenants.includes(v.event.tenant)) errors.push({ field: 'tenant', message: 'this key may not write events of this tenant' });
      if (v.ok && errors.length === 0) {
        seen.set(v.event.id, index);
        accepted.push(v.event);
        results.push({ index, id, status: 'accepted' });
      } else {
        rejected.push({ raw, value, errors });
        results.push({ index, id, status: 'rejected', errors });
      }
    });
    this.metrics.received.inc({ channel: 'http' }, decoded.items.length);
    try {
      await this.pipeline.accept(accepted);
    } catch (e) {
      if (e instanceof AcceptLogUnavailable) throw new ServiceUnavailableException({ error: 'not_durable', message: 'events could not be made durable; nothing was accepted, retry later' });
      if (!(e instanceof QueueFull)) throw e;
      this.metrics.rejected.inc({ reason: 'queue_full' }, accepted.length);
      res.status(429).setHeader('Retry-After', String(e.retryAfterSeconds));
      return { error: 'queue_full', message: 'the probe queue is full; retry after the indicated delay', retry_after_seconds: e.retryAfterSeconds };
    }
    if (rejected.length) {
      this.metrics.rejected.inc({ reason: 'invalid' }, rejected.length);
      await this.recordItems(rejected);
    }
    return { accepted: accepted.length, rejected: rejected.length, results };
  }

  private async recordItems(rejected: Rejected[]): Promise<void> {
    for (const r of rejected) this.metrics.deadLettered.inc({ channel: 'http', field: r.errors[0]?.field.replace(/\[\d+\]/g, '[]').slice(0, 64) ?? '' });
    await this.deadLetters.record(rejected.map((r) => ({
      channel: 'http', reason: 'schema validation failed', errors: r.errors, payload: r.raw,
      eventId: stringField(r.value, 'id'), tenant: stringField(r.value, 'tenant'),
    })));
  }

  /** A body rejected whole: its bytes as text, or base64 when they are not UTF-8. */
  private async recordBody(body: Buffer, reason: string, errors: FieldError[]): Promise<void> {
    const utf8 = Buffer.from(body.toString('utf8'), 'utf8').equals(body);
    this.metrics.deadLettered.inc({ channel: 'http', field: errors[0].field });
    await this.deadLetters.record([{ channel: 'http', reason, errors, payload: utf8 ? body.toString('utf8') : `base64:${body.toString('base64')}` }]);
  }

  @Requires('events:read')
  @Get()
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const base = listFilters(c, caller);
    const concept = c.oneOf('concept', CONCEPT_IDS);
    const minScore = c.number('min_score', 0, 1);
    if (minScore !== undefined && concept === undefined) c.errors.push({ field: 'min_score', message: 'needs concept' });
    c.done();
    const scope = base.scope;
    const items = scope ? await this.events.list({ ...base, scope, concept, minScore }) : [];
    return { items, count: items.length };
  }

  /**
   * One event. Its conversation text (the messages and the evidence tokens) is returned only to
   * callers allowed raw content (events:content); the read is then recorded in the audit trail.
   */
  @Requires('events:read')
  @Get(':id')
  async get(@Param('id') id: string, @Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks({ ...q, id });
    c.id('id');
    const tenant = c.ident('tenant');
    c.done();
    const scope = scopeFor(caller, tenant);
    const ev = SAFE_ID.test(id) && scope ? await this.events.get(scope, id) : null;
    if (!ev) throw new NotFoundException({ error: 'not_found', message: 'no such event' });
    if (!can(caller, 'events:content')) return withoutContent(ev);
    this.audit.record(actorOf(caller), 'content.read', String(ev.id), String(ev.tenant), { content_policy: ev.content_policy });
    return ev;
  }
}

/** An event with its conversation text withheld: messages and the evidence tokens' text. */
export function withoutContent(ev: Record<string, unknown>): Record<string, unknown> {
  const concepts = (ev.concepts ?? {}) as Record<string, Record<string, unknown>>;
  const strip = (tokens: unknown): unknown => (Array.isArray(tokens) ? tokens.map(({ token: _t, ...rest }: Record<string, unknown>) => rest) : tokens);
  return {
    ...ev,
    messages: null,
    content_withheld: true,
    concepts: Object.fromEntries(Object.entries(concepts).map(([k, r]) => [k, {
      ...r,
      ...(r.tokens ? { tokens: strip(r.tokens) } : {}),
      features: Array.isArray(r.features) ? r.features.map((f: Record<string, unknown>) => ({ ...f, top_tokens: strip(f.top_tokens) })) : r.features,
    }])),
  };
}

