import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';

import { ApiTokenGuard } from '../ops/api-token.guard';
import { AlertDeliveryRepository, ALERT_STATES } from '../storage/alert-delivery.repository';
import { AlertsRepository } from '../storage/alerts.repository';
import { listFilters, QueryChecks } from '../ingest/query-params';
import { SEVERITIES } from '../domain/alert';
import { AlertsService } from './alerts.service';
import { SilenceError } from './delivery/silences';

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

function who(v: unknown, field: string): string {
  if (v === undefined) return 'api';
  if (typeof v !== 'string' || !v.trim() || v.length > 256) throw new BadRequestException({ error: 'invalid_body', errors: [{ field, message: 'must be 1..256 characters' }] });
  return v;
}

function ackBody(body: unknown): { by: string; comment: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw new BadRequestException({ error: 'invalid_body', errors: [{ field: '', message: 'must be a JSON object {by, comment}' }] });
  const unknown = Object.keys(b).filter((k) => k !== 'by' && k !== 'comment');
  if (unknown.length) throw new BadRequestException({ error: 'invalid_body', errors: unknown.map((field) => ({ field, message: 'unknown field; expected by, comment' })) });
  if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 4096)) {
    throw new BadRequestException({ error: 'invalid_body', errors: [{ field: 'comment', message: 'must be a string of at most 4096 characters' }] });
  }
  return { by: who(b.by, 'by'), comment: (b.comment as string | undefined) ?? '' };
}

@Controller('v1/alerts')
@UseGuards(ApiTokenGuard)
export class AlertsController {
  constructor(private readonly alerts: AlertsRepository, private readonly delivery: AlertsService) {}

  @Get()
  async list(@Query() q: Record<string, unknown>): Promise<unknown> {
    const c = new QueryChecks(q);
    const base = listFilters(c);
    const filters = {
      rule: c.text('rule'), severity: c.oneOf('severity', SEVERITIES), eventId: c.id('event_id'),
      state: c.oneOf('state', ALERT_STATES), silenced: c.bool('silenced'), acked: c.bool('acked'),
    };
    c.done();
    const items = await this.alerts.list({ ...base, ...filters });
    return { items, count: items.length };
  }

  private async find(id: string, tenant: unknown): Promise<Record<string, string>> {
    if (!ID.test(id)) throw new NotFoundException({ error: 'not_found', message: 'no such alert' });
    const c = new QueryChecks({ tenant });
    const t = c.ident('tenant');
    c.done();
    const a = await this.alerts.get(t ? { tenant: t } : { allTenants: true }, id);
    if (!a) throw new NotFoundException({ error: 'not_found', message: 'no such alert' });
    return a;
  }

  /** Acknowledges the alert's series: no repeat notifications until it resolves or the ack is withdrawn. */
  @Post(':id/ack')
  @HttpCode(200)
  async ack(@Param('id') id: string, @Body() body: unknown, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const { by, comment } = ackBody(body);
    const a = await this.find(id, tenant);
    await this.delivery.acknowledge({ tenant: a.tenant, fingerprint: a.fingerprint, alert_id: a.alert_id }, true, by, comment);
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, acked: true, by, comment, at: new Date().toISOString() };
  }

  @Delete(':id/ack')
  async unack(@Param('id') id: string, @Query('tenant') tenant?: unknown, @Query('by') by?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant);
    const actor = who(by, 'by');
    await this.delivery.acknowledge({ tenant: a.tenant, fingerprint: a.fingerprint, alert_id: a.alert_id }, false, actor, 'acknowledgement withdrawn');
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, acked: false, by: actor };
  }

  /** The alert's series history: every state it passed through, by whom. */
  @Get(':id/history')
  async history(@Param('id') id: string, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant);
    const items = await this.delivery.history(a.tenant, a.fingerprint);
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, items };
  }
}

@Controller('v1/silences')
@UseGuards(ApiTokenGuard)
export class SilencesController {
  constructor(private readonly delivery: AlertsService) {}

  /** Creates a silence, or updates the one whose `id` is given. */
  @Post()
  @HttpCode(200)
  async create(@Body() body: unknown): Promise<unknown> {
    try {
      const id = typeof body === 'object' && body !== null && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : undefined;
      const s = await this.delivery.saveSilence(body, 'api', id);
      return { silenceID: s.id, silence: s };
    } catch (e) {
      if (e instanceof SilenceError) throw new BadRequestException({ error: 'invalid_silence', message: e.message });
      throw e;
    }
  }

  @Get()
  async list(@Query() q: Record<string, unknown>): Promise<unknown> {
    const c = new QueryChecks(q);
    const state = c.oneOf('state', ['pending', 'active', 'expired'] as const);
    const stale = c.bool('stale');
    c.done();
    const items = (await this.delivery.listSilences()).filter((s) => (state === undefined || (s.status as { state: string }).state === state) && (stale === undefined || s.stale === stale));
    return { items, count: items.length };
  }

  /** Expires the silence (it stays listed, as expired). */
  @Delete(':id')
  async expire(@Param('id') id: string): Promise<unknown> {
    const s = ID.test(id) ? await this.delivery.expireSilence(id) : null;
    if (!s) throw new NotFoundException({ error: 'not_found', message: 'no such silence' });
    return { silenceID: s.id, endsAt: s.endsAt, status: { state: 'expired' } };
  }
}

@Controller('v1')
@UseGuards(ApiTokenGuard)
export class NotificationsController {
  constructor(private readonly log: AlertDeliveryRepository, private readonly delivery: AlertsService) {}

  @Get('notifications')
  async list(@Query() q: Record<string, unknown>): Promise<unknown> {
    const c = new QueryChecks(q);
    const tenant = c.ident('tenant');
    const alertId = c.id('alert_id');
    const receiver = c.text('receiver');
    const outcome = c.oneOf('outcome', ['pending', 'retrying', 'sent', 'dead'] as const);
    const limit = c.int('limit', 100, 1, 1000);
    c.done();
    const items = await this.log.list({ tenants: tenant ? [tenant] : null, alertId, receiver, outcome, limit });
    return { items, count: items.length };
  }

  /** The alerting file in use, its last reload, and the open alert groups of this instance. */
  @Get('alerting')
  status(): unknown {
    return { ...this.delivery.status, ...this.delivery.dispatcher.snapshot() };
  }

  @Post('alerting/reload')
  @HttpCode(200)
  reload(): unknown {
    return this.delivery.reload('api');
  }
}
