import { generateKeyPairSync } from 'node:crypto';

import { AuditEntry, entryHash, GENESIS, signCheckpoint, verifyTrail } from '../../../src/domain/audit-chain';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function chain(n: number, name = 'i1'): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const e = { chain: name, seq, at: `2026-11-30T10:00:${String(seq % 60).padStart(2, '0')}.000Z`, actor: 'key:abc', action: 'content.read', target: `ev-${seq}`, tenant: 'acme', detail: '{}', prev_hash: prev };
    const full = { ...e, hash: entryHash(e) };
    out.push(full);
    prev = full.hash;
  }
  return out;
}

describe('audit hash chain and signed checkpoints', () => {
  const entries = chain(10);
  const cps = [signCheckpoint({ chain: 'i1', seq: 5, hash: entries[4].hash, at: 't' }, privateKey), signCheckpoint({ chain: 'i1', seq: 10, hash: entries[9].hash, at: 't' }, privateKey)];

  it('verifies an untouched trail', () => {
    expect(verifyTrail(entries, cps, publicKey, { fromGenesis: true })).toMatchObject({ ok: true, entries: 10, checkpoints: 2, chains: 1, problem: null });
  });

  it('names the first altered, missing or reordered entry', () => {
    const altered = entries.map((e) => (e.seq === 7 ? { ...e, target: 'ev-other' } : e));
    expect(verifyTrail(altered, cps, publicKey, { fromGenesis: true }).problem).toEqual({ chain: 'i1', seq: 7, reason: 'its content does not match its hash (the entry was altered)' });
    const deleted = entries.filter((e) => e.seq !== 4);
    expect(verifyTrail(deleted, cps, publicKey, { fromGenesis: true }).problem).toEqual({ chain: 'i1', seq: 4, reason: 'entry 4 is missing (next is 5)' });
    // Rewriting an entry and re-hashing it (and everything after) breaks the signed checkpoints.
    const rewritten = chain(10).map((e) => e);
    rewritten[2] = { ...rewritten[2], target: 'ev-forged' };
    let prev = rewritten[1].hash;
    for (let i = 2; i < rewritten.length; i++) {
      rewritten[i] = { ...rewritten[i], prev_hash: prev };
      rewritten[i] = { ...rewritten[i], hash: entryHash(rewritten[i]) };
      prev = rewritten[i].hash;
    }
    expect(verifyTrail(rewritten, cps, publicKey, { fromGenesis: true }).problem).toEqual({ chain: 'i1', seq: 5, reason: 'the chain up to this checkpoint differs from what was signed' });
    // Deleting the tail up to a checkpoint is seen too.
    expect(verifyTrail(entries.slice(0, 8), cps, publicKey, { fromGenesis: true }).problem).toEqual({ chain: 'i1', seq: 10, reason: 'entry 10, signed at a checkpoint, is missing' });
  });

  it('refuses a forged signature or another key', () => {
    const forged = [{ ...cps[0], signature: Buffer.alloc(64).toString('base64') }];
    expect(verifyTrail(entries, forged, publicKey, { fromGenesis: true }).problem?.reason).toBe('checkpoint signature does not verify');
    const other = generateKeyPairSync('ed25519');
    expect(verifyTrail(entries, cps, other.publicKey, { fromGenesis: true }).problem?.reason).toMatch(/signed by another key/);
  });

  it('verifies a segment from its first entry (an export), against the checkpoints inside it', () => {
    const segment = entries.slice(3, 9);
    expect(verifyTrail(segment, [cps[0]], publicKey, { fromGenesis: false }).ok).toBe(true);
    const bad = segment.map((e, i) => (i === 0 ? { ...e, prev_hash: GENESIS } : e));
    expect(verifyTrail(bad, [cps[0]], publicKey, { fromGenesis: false }).ok).toBe(false);
  });
});
