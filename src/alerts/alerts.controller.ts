import { Controller, Get, Query, UseGuards } from '@nestjs/common';

import { ApiTokenGuard } from '../ops/api-token.guard';
import { AlertsRepository } from '../storage/alerts.repository';
import { parseListQuery } from '../ingest/query-params';

@Controller('v1/alerts')
@UseGuards(ApiTokenGuard)
export class AlertsController {
  constructor(private readonly alerts: AlertsRepository) {}

  @Get()
  async list(@Query() q: Record<string, string>): Promise<unknown> {
    const base = parseListQuery(q);
    const items = await this.alerts.list({ ...base, rule: q.rule, severity: q.severity, eventId: q.event_id });
    return { items, count: items.length };
  }
}
