/**
 * Bearer tokens from an existing identity provider: JWTs verified with `jose` against the
 * issuer's JWKS (found through its discovery document), for PROBEWATCH_OIDC_AUDIENCE. The role
 * comes from PROBEWATCH_OIDC_ROLES_CLAIM (a string or a list; the first known role wins) and the
 * tenants from PROBEWATCH_OIDC_TENANTS_CLAIM (a list, or "*" for every tenant; absent: none).
 * `jose` is an ES module; it is loaded only when OIDC is configured.
 */
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

import { Caller, Role, ROLES, TENANT_ID } from '../../domain/access';

export interface OidcSettings {
  issuer: string;
  audience: string;
  rolesClaim: string;
  tenantsClaim: string;
}

export type OidcResult = { ok: true; caller: Caller } | { ok: false; reason: string };


/** The caller a verified token's claims stand for, or why it stands for none. */
export function callerFromClaims(p: JWTPayload, s: OidcSettings): OidcResult {
  const rawRoles = p[s.rolesClaim];
  const roles = (Array.isArray(rawRoles) ? rawRoles : [rawRoles]).filter((r): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r));
  if (!roles.length) return { ok: false, reason: `the token has no probewatch role in claim '${s.rolesClaim}'` };
  const rawTenants = p[s.tenantsClaim];
  let tenants: string[] | null;
  if (rawTenants === '*' || (Array.isArray(rawTenants) && rawTenants.includes('*'))) tenants = null;
  else if (Array.isArray(rawTenants)) tenants = rawTenants.filter((t): t is string => typeof t === 'string' && TENANT_ID.test(t));
  else tenants = [];
  const sub = typeof p.sub === 'string' ? p.sub : '';
  const name = typeof p.client_id === 'string' ? p.client_id : typeof p.preferred_username === 'string' ? p.preferred_username : sub;
  return { ok: true, caller: { id: sub || name, kind: 'oidc', name, role: roles[0], tenants, content: false } };
}

export class OidcVerifier {
  private jwks: JWTVerifyGetKey | null = null;

  constructor(readonly settings: OidcSettings, private readonly log: (m: string) => void) {}

  private async keys(): Promise<JWTVerifyGetKey> {
    if (this.jwks) return this.jwks;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jose = require('jose') as typeof import('jose');
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`discovery ${url} answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
    if (!doc.jwks_uri) throw new Error(`discovery ${url} has no jwks_uri`);
    this.jwks = jose.createRemoteJWKSet(new URL(doc.jwks_uri));
    return this.jwks;
  }

  async verify(token: string): Promise<OidcResult> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keys();
    } catch (e) {
      this.log(`OIDC provider unreachable: ${(e as Error).message}`);
      return { ok: false, reason: 'the identity provider could not be reached' };
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const jose = require('jose') as typeof import('jose');
      const { payload } = await jose.jwtVerify(token, keys, { issuer: this.settings.issuer, audience: this.settings.audience, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
      return callerFromClaims(payload, this.settings);
    } catch (e) {
      return { ok: false, reason: `token refused: ${(e as Error & { code?: string }).code ?? 'invalid'}` };
    }
  }
}
