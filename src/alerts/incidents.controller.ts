import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';

import { actorOf, Caller, scopeFor } from '../domain/access';
import { Incident, INCIDENT_CATEGORIES, IncidentCategory, incidentDeadline, incidentStatus } from '../domain/incident';
import { hasControlOrFormatChars } from '../ingest/field-checks';
import { QueryChecks } from '../ingest/query-params';
import { parseRfc3339 } from '../ingest/rfc3339';
import { AuditEvents } from '../platform/audit-events';
import { CallerOf, Requires } from '../platform/access.decorators';
import { AlertsRepository } from '../storage/alerts.repository';
import { IncidentsRepository } from '../storage/incidents.repository';
import { callerName, findAlert } from './alerts.controller';

interface IncidentBody { category?: IncidentCategory; summary?: string; aware_at?: string; reported_at?: string | null }

function incidentBody(body: unknown): IncidentBody {
  const b = (body ?? {}) as Record<string, unknown>;
  const errors: Array<{ field: string; message: string }> = [];
  if (typeof b !== 'object' || Array.isArray(b)) throw new BadRequestException({ error: 'invalid_body', errors: [{ field: '', message: 'must be a JSON object {category, summary, aware_at?, reported_at?}' }] });
  for (const k of Object.keys(b)) if (!['category', 'summary', 'aware_at', 'reported_at'].includes(k)) errors.push({ field: k, message: 'unknown field; expected category, summary, aware_at, reported_at' });
  if (b.category !== undefined && !(INCIDENT_CATEGORIES as string[]).includes(b.category as string)) errors.push({ field: 'category', message: `must be one of ${INCIDENT_CATEGORIES.join(', ')}` });
  if (b.summary !== undefined && (typeof b.summary !== 'string' || !b.summary.trim() || b.summary.length > 4096 || hasControlOrFormatChars(b.summary.replace(/\n/g, ' ')))) {
    errors.push({ field: 'summary', message: 'must be 1..4096 printable characters' });
  }
  const time = (f: 'aware_at' | 'reported_at'): string | undefined => {
    const v = b[f];
    if (v === undefined || (f === 'reported_at' && v === null)) return undefined;
    const ms = typeof v === 'string' ? parseRfc3339(v) : null;
    if (ms === null || ms > Date.now() + 60_000) {
      errors.push({ field: f, message: 'must be an RFC 3339 date-time, not in the future' });
      return undefined;
    }
    return new Date(ms).toISOString();
  };
  const out: IncidentBody = { category: b.category as IncidentCategory | undefined, summary: typeof b.summary === 'string' ? b.summary.trim() : undefined, aware_at: time('aware_at'), reported_at: time('reported_at') };
  if (b.reported_at === null) out.reported_at = null;
  if (errors.length) throw new BadRequestException({ error: 'invalid_incident', errors });
  return out;
}

const view = (i: Incident): unknown => ({ ...i, status: incidentStatus(i, Date.now()) });

/**
 * Serious incidents (EU AI Act Art. 73): a person marks an alert as one, with its category (which
 * sets the reporting deadline) and a summary; records when it was reported to the authority; or
 * withdraws the marking. Each step is in the audit trail.
 */
@Controller('v1')
export class IncidentsController {
  constructor(private readonly alerts: AlertsRepository, private readonly incidents: IncidentsRepository, private readonly audit: AuditEvents) {}

  @Requires('alerts:read')
  @Get('incidents')
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const scope = scopeFor(caller, c.ident('tenant'));
    const status = c.oneOf('status', ['open', 'overdue', 'reported', 'reported_late'] as const);
    c.done();
    const items = scope ? (await this.incidents.list(scope)).map(view) as Array<{ status: string }> : [];
    const shown = status ? items.filter((i) => i.status === status) : items;
    return { items: shown, count: shown.length };
  }

  /** Marks the alert as a serious incident, or updates the marking (category, summary, report time). */
  @Requires('incidents:write')
  @Post('alerts/:id/incident')
  @HttpCode(200)
  async mark(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const b = incidentBody(body);
    const a = await this.find(id, tenant, caller);
    const old = await this.incidents.get(a.tenant, a.alert_id);
    const category = b.category ?? old?.category;
    const summary = b.summary ?? old?.summary;
    if (!category || !summary) {
      throw new BadRequestException({ error: 'invalid_incident', errors: [...(category ? [] : [{ field: 'category', message: 'required' }]), ...(summary ? [] : [{ field: 'summary', message: 'required' }])] });
    }
    const awareAt = b.aware_at ?? old?.aware_at ?? new Date().toISOString();
    const i: Incident = {
      tenant: a.tenant, alert_id: a.alert_id, fingerprint: a.fingerprint, rule: a.rule, category, summary, aware_at: awareAt,
      deadline: incidentDeadline(category, awareAt), reported_at: b.reported_at === undefined ? old?.reported_at ?? null : b.reported_at,
      marked_by: callerName(caller), updated_at: new Date().toISOString(),
    };
    await this.incidents.save(i);
    this.audit.record(actorOf(caller), old ? 'incident.update' : 'incident.mark', a.alert_id, a.tenant, { category, aware_at: awareAt, deadline: i.deadline, reported_at: i.reported_at });
    return view(i);
  }

  @Requires('incidents:write')
  @Delete('alerts/:id/incident')
  async withdraw(@Param('id') id: string, @CallerOf() caller: Caller, @Query('tenant') tenant?: unknown): Promise<unknown> {
    const a = await this.find(id, tenant, caller);
    const old = await this.incidents.get(a.tenant, a.alert_id);
    if (!old) throw new NotFoundException({ error: 'not_found', message: 'the alert is not marked as a serious incident' });
    await this.incidents.save({ ...old, marked_by: callerName(caller), updated_at: new Date().toISOString() }, true);
    this.audit.record(actorOf(caller), 'incident.withdraw', a.alert_id, a.tenant, { category: old.category });
    return { alert_id: a.alert_id, withdrawn: true };
  }

  private find(id: string, tenant: unknown, caller: Caller): Promise<Record<string, string>> {
    return findAlert(this.alerts, id, tenant, caller);
  }
}
