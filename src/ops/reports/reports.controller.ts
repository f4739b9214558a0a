import { BadRequestException, Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';

import { actorOf, Caller, TENANT_ID } from '../../domain/access';
import { parseRfc3339 } from '../../ingest/rfc3339';
import { CallerOf, Requires } from '../../platform/access.decorators';
import { REPORT_FORMATS, ReportFormat } from './report';
import { ReportMeta, ReportsService } from './reports.service';

const TYPES: Record<ReportFormat, string> = { json: 'application/json', csv: 'text/csv; charset=utf-8', html: 'text/html; charset=utf-8', pdf: 'application/pdf' };

function visible(m: ReportMeta, c: Caller): boolean {
  return c.tenants === null || (m.tenant !== null && c.tenants.includes(m.tenant));
}

/** Compliance reports: asked for, listed, served once ready (reviewer and admin). */
@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Requires('reports:create')
  @Post()
  @HttpCode(202)
  create(@Body() body: unknown, @CallerOf() caller: Caller): unknown {
    const b = (body ?? {}) as Record<string, unknown>;
    const errors: Array<{ field: string; message: string }> = [];
    const time = (f: string): string | null => {
      const v = b[f];
      const ms = typeof v === 'string' ? parseRfc3339(v) : null;
      if (ms === null) errors.push({ field: f, message: 'must be an RFC 3339 date-time, e.g. 2026-11-01T00:00:00Z' });
      return ms === null ? null : new Date(ms).toISOString();
    };
    const from = time('from');
    const to = time('to');
    if (from && to && Date.parse(to) <= Date.parse(from)) errors.push({ field: 'to', message: 'must be after from' });
    const format = (b.format ?? 'json') as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) errors.push({ field: 'format', message: `must be one of ${REPORT_FORMATS.join(', ')}` });
    const tenant = b.tenant === undefined || b.tenant === null ? null : b.tenant;
    if (tenant !== null && (typeof tenant !== 'string' || !TENANT_ID.test(tenant))) errors.push({ field: 'tenant', message: 'must be a tenant id' });
    for (const k of Object.keys(b)) if (!['from', 'to', 'tenant', 'format'].includes(k)) errors.push({ field: k, message: 'unknown field; expected from, to, tenant, format' });
    if (errors.length) throw new BadRequestException({ error: 'invalid_report_request', errors });
    // A tenant-scoped caller reports on one of its tenants.
    if (caller.tenants !== null && (tenant === null || !caller.tenants.includes(tenant as string))) {
      throw new BadRequestException({ error: 'invalid_report_request', errors: [{ field: 'tenant', message: `must be one of your tenants: ${caller.tenants.join(', ')}` }] });
    }
    const m = this.reports.request({ from: from!, to: to!, tenant: tenant as string | null, format }, actorOf(caller));
    return { id: m.id, status: m.status };
  }

  @Requires('reports:read')
  @Get()
  list(@CallerOf() caller: Caller): unknown {
    const items = this.reports.list().filter((m) => visible(m, caller));
    return { items, count: items.length };
  }

  /** The report file once ready (200); its status while pending or failed (202 / 500 with the reason). */
  @Requires('reports:read')
  @Get(':id')
  get(@Param('id') id: string, @CallerOf() caller: Caller, @Res() res: Response): void {
    const m = this.reports.get(id);
    if (!m || !visible(m, caller)) throw new NotFoundException({ error: 'not_found', message: 'no such report' });
    if (m.status === 'pending') {
      res.status(202).json({ id: m.id, status: m.status });
      return;
    }
    if (m.status === 'failed') {
      res.status(500).json({ id: m.id, status: m.status, error: m.error });
      return;
    }
    res.setHeader('content-type', TYPES[m.format]);
    res.setHeader('content-disposition', `attachment; filename="probewatch-report-${m.id}.${m.format}"`);
    res.sendFile(this.reports.file(m));
  }
}
