import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { ApiTokenGuard } from '../ops/api-token.guard';
import { Metrics } from '../ops/metrics';
import { CONCEPT_IDS } from '../probe/pack-manifest';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { EventsRepository } from '../storage/events.repository';
import { FieldError, ProbeEvent, validateEvent } from './event-contract';
import { QueueFull } from './pipeline';
import { PipelineService } from './pipeline.service';
import { parseListQuery } from './query-params';

type ItemResult = { index: number; id?: string; status: 'accepted' } | { index: number; id?: string; status: 'rejected'; errors: FieldError[] };

@Controller('v1/events')
@UseGuards(ApiTokenGuard)
export class EventsController {
  constructor(
    @Inject(APP_CONFIG) private readonly cfg: AppConfig,
    private readonly pipeline: PipelineService,
    private readonly events: EventsRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly metrics: Metrics,
  ) {}

  /** One event or an array; 202 with a result per item. Rejected items go to dead_letters. */
  @Post()
  @HttpCode(202)
  async ingest(@Body() body: unknown, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const items = Array.isArray(body) ? body : [body];
    const { maxBatchEvents, maxMessages, maxContentChars } = this.cfg.limits;
    if (items.length === 0 || items.length > maxBatchEvents) {
      res.status(400);
      return { error: 'invalid_batch', message: `send between 1 and ${maxBatchEvents} events per request` };
    }
    const results: ItemResult[] = [];
    const accepted: ProbeEvent[] = [];
    const rejected: Array<{ raw: unknown; errors: FieldError[] }> = [];
    items.forEach((raw, index) => {
      const v = validateEvent(raw, { maxMessages, maxContentChars, maxIdChars: 256 });
      const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : undefined;
      if (v.ok) {
        accepted.push(v.event);
        results.push({ index, id, status: 'accepted' });
      } else {
        rejected.push({ raw, errors: v.errors });
        results.push({ index, id, status: 'rejected', errors: v.errors });
      }
    });
    this.metrics.received.inc({ channel: 'http' }, items.length);
    try {
      this.pipeline.pipeline.submit(accepted);
    } catch (e) {
      if (!(e instanceof QueueFull)) throw e;
      this.metrics.rejected.inc({ reason: 'queue_full' }, accepted.length);
      res.status(429).setHeader('Retry-After', String(e.retryAfterSeconds));
      return { error: 'queue_full', message: 'the probe queue is full; retry after the indicated delay', retry_after_seconds: e.retryAfterSeconds };
    }
    if (rejected.length) {
      this.metrics.rejected.inc({ reason: 'invalid' }, rejected.length);
      await this.deadLetters.record(rejected.map((r) => ({
        channel: 'http', reason: 'schema validation failed', errors: r.errors, payload: JSON.stringify(r.raw) ?? String(r.raw),
        eventId: typeof (r.raw as { id?: unknown })?.id === 'string' ? (r.raw as { id: string }).id : undefined,
        tenant: typeof (r.raw as { tenant?: unknown })?.tenant === 'string' ? (r.raw as { tenant: string }).tenant : undefined,
      })));
    }
    return { accepted: accepted.length, rejected: rejected.length, results };
  }

  @Get()
  async list(@Query() q: Record<string, string>): Promise<unknown> {
    const base = parseListQuery(q);
    const errors: string[] = [];
    if (q.concept !== undefined && !(CONCEPT_IDS as readonly string[]).includes(q.concept)) errors.push(`concept: must be one of ${CONCEPT_IDS.join(', ')}`);
    const minScore = q.min_score === undefined ? undefined : Number(q.min_score);
    if (minScore !== undefined && (Number.isNaN(minScore) || minScore < 0 || minScore > 1)) errors.push('min_score: must be a number in 0..1');
    if (minScore !== undefined && q.concept === undefined) errors.push('min_score: needs concept');
    if (errors.length) throw new BadRequestException({ error: 'invalid_query', errors });
    const items = await this.events.list({ ...base, concept: q.concept, minScore });
    return { items, count: items.length };
  }

  @Get(':id')
  async get(@Param('id') id: string, @Query('tenant') tenant?: string): Promise<unknown> {
    const ev = await this.events.get(tenant ? { tenant } : { allTenants: true }, id);
    if (!ev) throw new NotFoundException({ error: 'not_found', message: `no event with id ${id}` });
    return ev;
  }
}
