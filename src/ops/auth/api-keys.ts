/**
 * API keys: `pwk_<id>_<secret>`, 32 random bytes of secret, shown once at creation and stored only
 * as the SHA-256 of the secret (a random 256-bit secret needs no slow hash). Keys are checked
 * against an in-memory copy of the table, re-read every 10 s and on an unknown id, so a key
 * revoked on another instance stops working there within 10 s (at once on the instance that
 * revoked it).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { Caller, Role, ROLES, TENANT_ID } from '../../domain/access';
import type { ApiKeysRepository, StoredKey } from '../../storage/api-keys.repository';

export class KeyError extends Error {}

export interface KeyInfo {
  id: string;
  name: string;
  role: Role;
  tenants: string[] | null;
  content: boolean;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string;
}

const KEY = /^pwk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const REFRESH_MS = 10_000;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function info(k: StoredKey): KeyInfo {
  return { id: k.id, name: k.name, role: k.role as Role, tenants: k.tenants, content: k.content, created_at: k.created_at, created_by: k.created_by, revoked_at: k.revoked_at, revoked_by: k.revoked_by };
}

export function checkKeyRequest(body: unknown): { role: Role; tenants: string[] | null; name: string; content: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new KeyError('the body must be a JSON object {role, tenants, name, content}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['role', 'tenants', 'name', 'content'].includes(k)) throw new KeyError(`unknown field '${k}'; expected role, tenants, name, content`);
  if (typeof b.role !== 'string' || !(ROLES as readonly string[]).includes(b.role)) throw new KeyError(`role must be one of ${ROLES.join(', ')}`);
  let tenants: string[] | null = null;
  if (b.tenants !== undefined && b.tenants !== null) {
    if (!Array.isArray(b.tenants) || b.tenants.some((t) => typeof t !== 'string' || !TENANT_ID.test(t))) throw new KeyError('tenants must be a list of tenant ids (omit it for every tenant)');
    if (!b.tenants.length) throw new KeyError('tenants must not be empty (omit it for every tenant)');
    tenants = [...new Set(b.tenants as string[])].sort();
  }
  const name = b.name === undefined ? '' : b.name;
  if (typeof name !== 'string' || name.length > 128 || /[\u0000-\u001f\u007f]/.test(name)) throw new KeyError('name must be at most 128 printable characters');
  if (b.content !== undefined && typeof b.content !== 'boolean') throw new KeyError('content must be true or false');
  const content = b.content === true;
  if (content && b.role !== 'reviewer') throw new KeyError('content is granted to reviewer keys only (admin and safety read content by their role)');
  if (b.role === 'admin' && tenants !== null) throw new KeyError('an admin key covers every tenant; give a tenant-scoped key another role');
  return { role: b.role as Role, tenants, name, content };
}

export class ApiKeys {
  private byId = new Map<string, StoredKey>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(private readonly repo: ApiKeysRepository, private readonly now: () => number = Date.now) {}

  private async load(force = false): Promise<void> {
    if (!force && this.now() - this.loadedAt < REFRESH_MS) return;
    this.loading ??= this.repo.all().then((keys) => {
      this.byId = new Map(keys.map((k) => [k.id, k]));
      this.loadedAt = this.now();
    }).finally(() => {
      this.loading = null;
    });
    await this.loading;
  }

  async create(req: { role: Role; tenants: string[] | null; name: string; content: boolean }, by: string): Promise<{ key: string; info: KeyInfo }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const stored: StoredKey = {
      id, name: req.name, role: req.role, tenants: req.tenants, content: req.content, secret_sha256: sha256(secret),
      created_at: new Date(this.now()).toISOString(), created_by: by, revoked_at: null, revoked_by: '',
    };
    await this.repo.save(stored);
    this.byId.set(id, stored);
    return { key: `pwk_${id}_${secret}`, info: info(stored) };
  }

  async list(): Promise<KeyInfo[]> {
    await this.load(true);
    return [...this.byId.values()].map(info);
  }

  async active(): Promise<number> {
    await this.load(true);
    return [...this.byId.values()].filter((k) => !k.revoked_at).length;
  }

  /** False when there is no such key; revoking twice is harmless. */
  async revoke(id: string, by: string): Promise<KeyInfo | null> {
    await this.load(true);
    const k = this.byId.get(id);
    if (!k) return null;
    if (k.revoked_at) return info(k);
    const revoked = { ...k, revoked_at: new Date(this.now()).toISOString(), revoked_by: by };
    await this.repo.save(revoked);
    this.byId.set(id, revoked);
    return info(revoked);
  }

  /** The caller a bearer key stands for, or null (unknown, malformed, revoked or wrong secret). */
  async authenticate(token: string): Promise<Caller | null> {
    const m = KEY.exec(token);
    if (!m) return null;
    await this.load();
    let k = this.byId.get(m[1]);
    if (!k) {
      await this.load(true);
      k = this.byId.get(m[1]);
    }
    if (!k || k.revoked_at) return null;
    const given = Buffer.from(sha256(m[2]), 'hex');
    const want = Buffer.from(k.secret_sha256, 'hex');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return null;
    return { id: k.id, kind: 'key', name: k.name, role: k.role as Role, tenants: k.tenants, content: k.content };
  }
}
