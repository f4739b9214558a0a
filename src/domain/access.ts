/**
 * Who may do what (pure): roles, the permissions each grants, the caller of a request, and the
 * tenants a caller may see. Every route declares one permission; a route without one is refused.
 */
/** A tenant id as the event contract takes it: 1..128 ASCII letters, digits or . _ : / @ + -,
 *  starting with a letter or digit. Keys, tokens, report requests and settings name tenants so. */
export const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

export const ROLES = ['admin', 'safety', 'reviewer', 'rule-author', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'events:write', // POST /v1/events
  'events:read', // scores, evidence and metadata of stored events
  'events:content', // raw conversation text of stored events
  'alerts:read',
  'alerts:ack',
  'incidents:write', // mark an alert as a serious incident (EU AI Act Art. 73), record its report
  'silences:read',
  'silences:write',
  'notifications:read',
  'alerting:read',
  'alerting:reload',
  'rules:read',
  'rules:reload',
  'keys:admin',
  'audit:read',
  'reports:read',
  'reports:create',
  'data:erase',
  'metrics:read',
  'session:read', // who the caller is and what it may do (the console's sign-in)
  'pack:read', // the probe pack: concepts, thresholds, calibration, feature labels and top contexts
  'guard:check', // POST /v1/guard: a synchronous verdict on one conversation (recorded as an event)
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READ_ALERTS: Permission[] = ['alerts:read', 'silences:read', 'notifications:read', 'alerting:read', 'rules:read'];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  safety: ['events:read', 'events:content', ...READ_ALERTS, 'alerts:ack', 'incidents:write', 'silences:write', 'metrics:read', 'session:read', 'pack:read'],
  reviewer: ['events:read', ...READ_ALERTS, 'audit:read', 'reports:read', 'reports:create', 'metrics:read', 'session:read', 'pack:read'],
  'rule-author': ['events:read', 'alerts:read', 'alerting:read', 'alerting:reload', 'rules:read', 'rules:reload', 'session:read', 'pack:read'],
  ingest: ['events:write', 'guard:check', 'session:read'],
};

export interface Caller {
  /** Key id, OIDC subject, or 'auth-off'. */
  id: string;
  kind: 'key' | 'oidc' | 'auth-off';
  name: string;
  role: Role;
  /** The tenants the caller may see; null: every tenant. */
  tenants: string[] | null;
  /** A reviewer key granted raw content. */
  content: boolean;
}

export function can(c: Caller, p: Permission): boolean {
  if (p === 'events:content' && c.role === 'reviewer') return c.content;
  return ROLE_PERMISSIONS[c.role].includes(p);
}

/** Tenants a query covers: `{tenants}` or every tenant. */
export type TenantScope = { tenants: string[] } | { allTenants: true };

/**
 * The scope of a request from a caller that may have asked for one tenant. Null when the caller
 * asked for a tenant it may not see (the route then answers as if nothing were there).
 */
export function scopeFor(c: Caller, requested?: string): TenantScope | null {
  if (requested !== undefined) return c.tenants === null || c.tenants.includes(requested) ? { tenants: [requested] } : null;
  return c.tenants === null ? { allTenants: true } : { tenants: c.tenants };
}

export function inScope(scope: TenantScope, tenant: string): boolean {
  return 'allTenants' in scope || scope.tenants.includes(tenant);
}

/** How a caller appears in the audit trail: `key:<id> (<name>)`, `oidc:<sub>`, or `auth-off`. */
export function actorOf(c: Caller): string {
  return c.kind === 'auth-off' ? 'auth-off' : `${c.kind}:${c.id}${c.name ? ` (${c.name})` : ''}`;
}
