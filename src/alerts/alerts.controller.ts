import { Controller, Get, Query, UseGuards } from '@nestjs/common';

import { ApiTokenGuard } from '../ops/api-token.guard';
import { AlertsRepository } from '../storage/alerts.repository';
import { listFilters, QueryChecks } from '../ingest/query-params';
import { SEVERITIES } from '../domain/alert';

@Controller('v1/alerts')
@UseGuards(ApiTokenGuard)
export class AlertsController {
  constructor(private readonly alerts: AlertsRepository) {}

  @Get()
  async list(@Query() q: Record<string, unknown>): Promise<unknown> {
    const c = new QueryChecks(q);
    const base = listFilters(c);
    const filters = { rule: c.text('rule'), severity: c.oneOf('severity', SEVERITIES), eventId: c.id('event_id') };
    c.done();
    const items = await this.alerts.list({ ...base, ...filters });
    return { items, count: items.length };
  }
}
