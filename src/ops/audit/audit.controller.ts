import { Controller, Get, Query } from '@nestjs/common';

import type { Caller } from '../../domain/access';
import { QueryChecks } from '../../ingest/query-params';
import { CallerOf, Requires } from '../../platform/access.decorators';
import { AuditService } from './audit.service';

/** The audit trail (admin and reviewer): its entries, and its verification. */
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Newest first. A tenant-scoped caller sees the entries of its tenants only. */
  @Requires('audit:read')
  @Get()
  async list(@Query() q: Record<string, unknown>, @CallerOf() caller: Caller): Promise<unknown> {
    const c = new QueryChecks(q);
    const from = c.time('from');
    const to = c.time('to');
    const action = c.text('action', 64);
    const actor = c.text('actor', 256);
    const limit = c.int('limit', 100, 1, 10_000);
    c.done();
    await this.audit.flush();
    const items = await this.audit.trail.repo().list({ from, to, action, actor, tenants: caller.tenants, limit });
    return { items, count: items.length };
  }

  /** Recomputes every chain and checks every signed checkpoint; names the first entry that does not match. */
  @Requires('audit:read')
  @Get('verify')
  async verify(): Promise<unknown> {
    await this.audit.flush();
    const t0 = performance.now();
    const r = await this.audit.trail.verify();
    return { ...r, seconds: Math.round(performance.now() - t0) / 1000 };
  }
}
