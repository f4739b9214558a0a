import { BadRequestException } from '@nestjs/common';

import { Caller, scopeFor, TenantScope } from '../domain/access';
import type { FieldError } from '../domain/event';
import { hasControlOrFormatChars, SAFE_ID, SAFE_IDENT } from './field-checks';
import { parseRfc3339 } from './rfc3339';

/** The range ClickHouse's DateTime64 holds: anything outside is a client error, not a query. */
const QUERY_FROM = Date.UTC(1900, 0, 1);
const QUERY_TO = Date.UTC(2300, 0, 1);

/**
 * Checks of query-string values, collecting every problem as `{field, message}`. A value that
 * passes can be bound as a query parameter without surprising ClickHouse, so a bad value is a
 * 400 naming the field, never a 500.
 */
export class QueryChecks {
  readonly errors: FieldError[] = [];

  constructor(private readonly q: Record<string, unknown>) {}

  private raw(field: string): string | undefined {
    const v = this.q[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.errors.push({ field, message: 'must be given once, as a plain value' });
      return undefined;
    }
    return v;
  }

  /** RFC 3339 date-time, normalised to ISO-8601 UTC. */
  time(field: string): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    const ms = parseRfc3339(v);
    if (ms === null || ms < QUERY_FROM || ms >= QUERY_TO) {
      this.errors.push({ field, message: 'must be an RFC 3339 date-time between 1900 and 2299, e.g. 2026-11-30T07:00:00Z' });
      return undefined;
    }
    return new Date(ms).toISOString();
  }

  ident(field: string, max = 128): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > max || !SAFE_IDENT.test(v)) {
      this.errors.push({ field, message: `must be 1..${max} ASCII letters, digits or . _ : / @ + -` });
      return undefined;
    }
    return v;
  }

  id(field: string): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > 256 || !SAFE_ID.test(v)) {
      this.errors.push({ field, message: 'must be 1..256 printable ASCII characters without spaces' });
      return undefined;
    }
    return v;
  }

  /** Free text such as a rule name: printable, bounded. */
  text(field: string, max = 256): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > max || hasControlOrFormatChars(v)) {
      this.errors.push({ field, message: `must be 1..${max} printable characters` });
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) {
      this.errors.push({ field, message: `must be one of ${allowed.join(', ')}` });
      return undefined;
    }
    return v as T;
  }

  /** `true` or `false`. */
  bool(field: string): boolean | undefined {
    const v = this.oneOf(field, ['true', 'false'] as const);
    return v === undefined ? undefined : v === 'true';
  }

  number(field: string, min: number, max: number): number | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    const n = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max)) {
      this.errors.push({ field, message: `must be a number in ${min}..${max}` });
      return undefined;
    }
    return n;
  }

  int(field: string, def: number, min: number, max: number): number {
    const v = this.raw(field);
    if (v === undefined) return def;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(Number.isInteger(n) && n >= min && n <= max)) {
      this.errors.push({ field, message: `must be an integer in ${min}..${max}` });
      return def;
    }
    return n;
  }

  /** Throws the 400 with every problem found, if any. */
  done(): void {
    if (this.errors.length) throw new BadRequestException({ error: 'invalid_query', errors: this.errors });
  }
}

/** Shared list filters: tenant (omitted = all tenants), from/to (RFC 3339), limit (1..1000). */
/**
 * The common list filters, with the tenants the caller may see: `scope` is null when the caller
 * asked for a tenant outside its keys' tenants (the list is then empty, as for an unknown tenant).
 */
export function listFilters(c: QueryChecks, caller: Caller): { scope: TenantScope | null; from?: string; to?: string; limit: number } {
  const tenant = c.ident('tenant');
  const from = c.time('from');
  const to = c.time('to');
  const limit = c.int('limit', 100, 1, 1000);
  return { scope: scopeFor(caller, tenant), from, to, limit };
}
