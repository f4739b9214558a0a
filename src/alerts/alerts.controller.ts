import { BadRequestException, Body, Controller, Delete, ForbiddenException, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';

import { actorOf, Caller, inScope, scopeFor } from '../domain/access';
import { AuditEvents } from '../platform/audit-events';
import { CallerOf, Requires } from '../platform/access.decorators';
import { AlertDeliveryRepository, ALERT_STATES } from '../storage/alert-delivery.repository';
import { AlertsRepository } from '../storage/alerts.repository';
import { listFilters, QueryChecks } from '../ingest/query-params';
import { SEVERITIES } from '../domain/alert';
import { AlertsService } from './alerts.service';
import { SilenceError } from './delivery/silences';

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

function who(v: unknown, field: string, caller: Caller): string {
  if (v === undefined) return callerName(caller);
  if (typeof v !== 'string' || !v.trim() || v.length > 256) throw new BadRequestException({ error: 'invalid_body', errors: [{ field, message: 'must be 1..256 characters' }] });
  return v;
}

/** The alert `id` within the caller's tenants (optionally one `tenant`), or a 404 as for an unknown id. */
export async function findAlert(alerts: AlertsRepository, id: string, tenant: unknown, caller: Caller): Promise<Record<string, string>> {
  if (!ID.test(id)) throw new NotFoundException({ error: 'not_found', message: 'no such alert' });
  const c = new QueryChecks({ tenant });
  const t = c.ident('tenant');
  c.done();
  const scope = scopeFor(caller, t);
  const a = scope ? await alerts.get(scope, id) : null;
  if (!a) throw new NotFoundException({ error: 'not_found', message: 'no such alert' });
  return a;
}

/** How a caller is named in acknowledgements and silences: the key's name, else its role and id. */
export function callerName(c: Caller): string {
  return c.kind === 'auth-off' ? 'api (auth off)' : c.name ? `${c.name} (${c.kind} ${c.id})` : `${c.role} ${c.kind} ${c.id}`;
}

function ackBody(body: unknown, caller: Caller): { by: string; comment: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw new BadRequestException({ error: 'invalid_body', errors: [{ field: '', message: 'must be a JSON object {by, comment}' }] });
  const unknown = Object.keys(b).filter((k) => k !== 'by' && k !== 'comment');
  if (unknown.length) throw new BadRequestException({ error: 'invalid_body', errors: unknown.map((field) => ({ field, message: 'unknown field; expected by, comment' })) });
  if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 4096)) {
    throw new BadRequestException({ error: 'invalid_body', errors: [{ field: 'comment', message: 'must be a string of at most 4096 characters' }] });
  }
  return { by: who(b.by, 'by', caller), comment: (b.comment as string | undefined) ?? '' };
}

@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsRepository, private readonly delivery: AlertsService, private readonly audit: AuditEvents) {}

  @Requires('alerts:read')
  @Get()
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const base = listFilters(c, caller);
    const filters = {
      rule: c.text('rule'), severity: c.oneOf('severity', SEVERITIES), eventId: c.id('event_id'),
      state: c.oneOf('state', ALERT_STATES), silenced: c.bool('silenced'), acked: c.bool('acked'),
    };
    c.done();
    const scope = base.scope;
    const items = scope ? await this.alerts.list({ ...base, scope, ...filters }) : [];
    return { items, count: items.length };
  }

  private find(id: string, tenant: unknown, caller: Caller): Promise<Record<string, string>> {
    return findAlert(this.alerts, id, tenant, caller);
  }

  /** Acknowledges the alert's series: no repeat notifications until it resolves or the ack is withdrawn. */
  @Requires('alerts:ack')
  @Post(':id/ack')
  @HttpCode(200)
  async ack(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const { by, comment } = ackBody(body, caller);
    const a = await this.find(id, tenant, caller);
    await this.delivery.acknowledge({ tenant: a.tenant, fingerprint: a.fingerprint, alert_id: a.alert_id }, true, by, comment);
    this.audit.record(actorOf(caller), 'alert.ack', a.alert_id, a.tenant, { by, comment, fingerprint: a.fingerprint });
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, acked: true, by, comment, at: new Date().toISOString() };
  }

  @Requires('alerts:ack')
  @Delete(':id/ack')
  async unack(@Param('id') id: string, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown, @Query('by') by?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant, caller);
    const actor = who(by, 'by', caller);
    await this.delivery.acknowledge({ tenant: a.tenant, fingerprint: a.fingerprint, alert_id: a.alert_id }, false, actor, 'acknowledgement withdrawn');
    this.audit.record(actorOf(caller), 'alert.unack', a.alert_id, a.tenant, { by: actor, fingerprint: a.fingerprint });
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, acked: false, by: actor };
  }

  /** One alert, with its series' current state, silences and acknowledgement. */
  @Requires('alerts:read')
  @Get(':id')
  async get(@Param('id') id: string, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant, caller);
    const [full] = await this.alerts.list({ scope: { tenants: [a.tenant] }, alertId: a.alert_id, limit: 1 });
    return full ?? a;
  }

  /** The alert's series history: every state it passed through, by whom. */
  @Requires('alerts:read')
  @Get(':id/history')
  async history(@Param('id') id: string, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant, caller);
    const items = await this.delivery.history(a.tenant, a.fingerprint);
    return { alert_id: a.alert_id, fingerprint: a.fingerprint, items };
  }
}

@Controller('v1/silences')
export class SilencesController {
  constructor(private readonly delivery: AlertsService, private readonly audit: AuditEvents) {}

  /**
   * Creates a silence, or updates the one whose `id` is given. A tenant-scoped caller's silence
   * must match `tenant` exactly (isEqual, not a regex) to one of its tenants.
   */
  @Requires('silences:write')
  @Post()
  @HttpCode(200)
  async create(@Body() body: unknown, @CallerOf() caller: Caller): Promise<unknown> {
    try {
      const id = typeof body === 'object' && body !== null && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : undefined;
      if (id !== undefined) {
        const existing = (await this.delivery.listSilences()).find((x) => x.id === id);
        if (!existing || !visible(existing, caller)) throw new NotFoundException({ error: 'not_found', message: 'no such silence' });
      }
      const s = await this.delivery.saveSilence(body, callerName(caller), id, (x) => {
        if (caller.tenants !== null && !visible(x, caller)) {
          throw new ForbiddenException({ error: 'forbidden', message: `a tenant-scoped key's silence needs a matcher tenant="…" (isEqual, not a regex) for one of its tenants: ${caller.tenants.join(', ')}` });
        }
      });
      this.audit.record(actorOf(caller), id ? 'silence.update' : 'silence.create', s.id, silenceTenant(s) ?? '', { matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment, recurring: s.recurring });
      return { silenceID: s.id, silence: s };
    } catch (e) {
      if (e instanceof SilenceError) throw new BadRequestException({ error: 'invalid_silence', message: e.message });
      throw e;
    }
  }

  @Requires('silences:read')
  @Get()
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const state = c.oneOf('state', ['pending', 'active', 'expired'] as const);
    const stale = c.bool('stale');
    c.done();
    const items = (await this.delivery.listSilences()).filter((s) => visible(s, caller) && (state === undefined || (s.status as { state: string }).state === state) && (stale === undefined || s.stale === stale));
    return { items, count: items.length };
  }

  /** Expires the silence (it stays listed, as expired). */
  @Requires('silences:write')
  @Delete(':id')
  async expire(@Param('id') id: string, @CallerOf() caller: Caller): Promise<unknown> {
    const known = ID.test(id) ? (await this.delivery.listSilences()).find((x) => x.id === id) : undefined;
    const s = known && visible(known, caller) ? await this.delivery.expireSilence(id) : null;
    if (!s) throw new NotFoundException({ error: 'not_found', message: 'no such silence' });
    this.audit.record(actorOf(caller), 'silence.expire', s.id, silenceTenant(s) ?? '', { endsAt: s.endsAt });
    return { silenceID: s.id, endsAt: s.endsAt, status: { state: 'expired' } };
  }
}

@Controller('v1')
export class NotificationsController {
  constructor(private readonly log: AlertDeliveryRepository, private readonly delivery: AlertsService, private readonly audit: AuditEvents) {}

  @Requires('notifications:read')
  @Get('notifications')
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const tenant = c.ident('tenant');
    const alertId = c.id('alert_id');
    const receiver = c.text('receiver');
    const outcome = c.oneOf('outcome', ['pending', 'retrying', 'sent', 'dead'] as const);
    const limit = c.int('limit', 100, 1, 1000);
    c.done();
    const scope = scopeFor(caller, tenant);
    const items = scope ? await this.log.list({ tenants: 'tenants' in scope ? scope.tenants : null, alertId, receiver, outcome, limit }) : [];
    return { items, count: items.length };
  }

  /** The alerting file in use, its last reload, and the open alert groups of this instance. */
  @Requires('alerting:read')
  @Get('alerting')
  status(): unknown {
    return { ...this.delivery.status, ...this.delivery.dispatcher.snapshot() };
  }

  @Requires('alerting:reload')
  @Post('alerting/reload')
  @HttpCode(200)
  reload(@CallerOf() caller: Caller): unknown {
    const status = this.delivery.reload('api');
    this.audit.record(actorOf(caller), status.lastReload.ok ? 'alerting.reload' : 'alerting.reload.rejected', status.file, '', { problems: status.lastReload.problems, receivers: status.receivers });
    return status;
  }
}

/** The tenant a silence is confined to: its `tenant="…"` equality matcher, if it has one. */
function silenceTenant(s: Record<string, unknown> | { matchers: unknown }): string | null {
  const ms = (s as { matchers: unknown }).matchers as Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  return ms.find((m) => m.name === 'tenant' && m.isEqual && !m.isRegex)?.value ?? null;
}

/** A caller sees every silence when it sees every tenant, else those confined to its tenants. */
function visible(s: Record<string, unknown> | { matchers: unknown }, caller: Caller): boolean {
  if (caller.tenants === null) return true;
  const t = silenceTenant(s);
  return t !== null && inScope({ tenants: caller.tenants }, t);
}

