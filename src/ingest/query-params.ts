import { BadRequestException } from '@nestjs/common';

import type { TenantScope } from '../storage/events.repository';

/** Shared list filters: tenant (omitted = all tenants), from/to (ISO-8601), limit (1..1000). */
export function parseListQuery(q: Record<string, string | undefined>): { scope: TenantScope; from?: string; to?: string; limit: number } {
  const errors: string[] = [];
  for (const k of ['from', 'to'] as const) if (q[k] !== undefined && Number.isNaN(Date.parse(q[k] as string))) errors.push(`${k}: must be an ISO-8601 date-time`);
  const limit = q.limit === undefined ? 100 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) errors.push('limit: must be an integer in 1..1000');
  if (errors.length) throw new BadRequestException({ error: 'invalid_query', errors });
  return { scope: q.tenant ? { tenant: q.tenant } : { allTenants: true }, from: q.from, to: q.to, limit };
}
