import { Caller, can, PERMISSIONS, ROLE_PERMISSIONS, scopeFor } from '../../../src/domain/access';
import { ApiKeys, checkKeyRequest, KeyError } from '../../../src/ops/auth/api-keys';
import type { ApiKeysRepository, StoredKey } from '../../../src/storage/api-keys.repository';

const caller = (over: Partial<Caller>): Caller => ({ id: 'k', kind: 'key', name: '', role: 'reviewer', tenants: null, content: false, ...over });

describe('roles and tenant scope', () => {
  it('the ingest role only writes events, asks the inline guard (and sees who it is); admin holds every permission', () => {
    expect(ROLE_PERMISSIONS.ingest).toEqual(['events:write', 'guard:check', 'session:read']);
    expect([...ROLE_PERMISSIONS.admin].sort()).toEqual([...PERMISSIONS].sort());
  });

  it('a reviewer reads raw content only when its key grants it', () => {
    expect(can(caller({}), 'events:content')).toBe(false);
    expect(can(caller({ content: true }), 'events:content')).toBe(true);
    expect(can(caller({}), 'events:read')).toBe(true);
    expect(can(caller({}), 'alerts:ack')).toBe(false);
    expect(can(caller({ role: 'safety' }), 'events:content')).toBe(true);
  });

  it('a tenant-scoped caller is confined to its tenants; asking for another gives nothing', () => {
    const c = caller({ tenants: ['acme', 'initech'] });
    expect(scopeFor(c)).toEqual({ tenants: ['acme', 'initech'] });
    expect(scopeFor(c, 'acme')).toEqual({ tenants: ['acme'] });
    expect(scopeFor(c, 'globex')).toBeNull();
    expect(scopeFor(caller({}), 'globex')).toEqual({ tenants: ['globex'] });
    expect(scopeFor(caller({}))).toEqual({ allTenants: true });
  });
});

describe('API keys', () => {
  function memory(): ApiKeysRepository {
    const rows = new Map<string, StoredKey>();
    return { save: async (k: StoredKey) => void rows.set(k.id, k), all: async () => [...rows.values()] } as unknown as ApiKeysRepository;
  }

  it('authenticates the key it created, not a tampered one, and not once revoked', async () => {
    const keys = new ApiKeys(memory());
    const { key, info } = await keys.create({ role: 'safety', tenants: ['acme'], name: 'n', content: false }, 'test');
    expect(await keys.authenticate(key)).toMatchObject({ id: info.id, role: 'safety', tenants: ['acme'] });
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await keys.authenticate(tampered)).toBeNull();
    expect(await keys.authenticate('pwk_0000000000000000_' + 'a'.repeat(43))).toBeNull();
    expect(await keys.authenticate('not-a-key')).toBeNull();
    await keys.revoke(info.id, 'test');
    expect(await keys.authenticate(key)).toBeNull();
  });

  it('checks a key request and names what is wrong', () => {
    expect(checkKeyRequest({ role: 'reviewer', tenants: ['b', 'a', 'a'], content: true })).toEqual({ role: 'reviewer', tenants: ['a', 'b'], name: '', content: true });
    for (const [body, why] of [
      [{ role: 'root' }, /role must be one of/],
      [{ role: 'safety', tenants: [] }, /must not be empty/],
      [{ role: 'safety', tenants: ['bad tenant'] }, /tenant ids/],
      [{ role: 'safety', content: true }, /reviewer keys only/],
      [{ role: 'admin', tenants: ['a'] }, /admin key covers every tenant/],
      [{ role: 'ingest', extra: 1 }, /unknown field 'extra'/],
    ] as Array<[unknown, RegExp]>) expect(() => checkKeyRequest(body)).toThrow(why);
    expect(() => checkKeyRequest(null)).toThrow(KeyError);
  });
});
