/**
 * The audit trail's integrity (pure): each instance appends to its own hash chain (an entry's hash
 * covers its content and the previous entry's hash), and signs the chain's head with Ed25519 at
 * checkpoints. Verification recomputes every hash, checks that sequence numbers have no gap and
 * that each checkpoint's signature and hash match, and names the first entry that does not.
 * Limit: entries appended after the last checkpoint and then deleted leave no gap to see.
 */
import { createHash, createPublicKey, KeyObject, sign, verify } from 'node:crypto';

export interface AuditRecord {
  actor: string;
  action: string;
  target: string;
  tenant: string;
  /** JSON text. */
  detail: string;
}

export interface AuditEntry extends AuditRecord {
  chain: string;
  seq: number;
  at: string;
  prev_hash: string;
  hash: string;
}

export interface Checkpoint {
  chain: string;
  seq: number;
  hash: string;
  at: string;
  /** Ed25519 signature (base64) over checkpointMessage(). */
  signature: string;
  /** sha256 of the public key (SPKI DER), hex. */
  key_id: string;
}

export const GENESIS = '0'.repeat(64);

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const body = JSON.stringify([e.chain, e.seq, e.at, e.actor, e.action, e.target, e.tenant, e.detail]);
  return createHash('sha256').update(`${e.prev_hash}\n${body}`).digest('hex');
}

export function checkpointMessage(c: Pick<Checkpoint, 'chain' | 'seq' | 'hash' | 'at'>): Buffer {
  return Buffer.from(`probewatch-audit-checkpoint/1\n${c.chain}\n${c.seq}\n${c.hash}\n${c.at}`);
}

export function keyId(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function signCheckpoint(c: Pick<Checkpoint, 'chain' | 'seq' | 'hash' | 'at'>, priv: KeyObject): Checkpoint {
  const pub = createPublicKey(priv);
  return { ...c, signature: sign(null, checkpointMessage(c), priv).toString('base64'), key_id: keyId(pub) };
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  checkpoints: number;
  chains: number;
  /** The first entry (or checkpoint) that does not match, and why. */
  problem: { chain: string; seq: number; reason: string } | null;
}

/**
 * Verifies entries (any order) and checkpoints against the public key. A chain may start after
 * its genesis (an exported segment): its first entry's prev_hash is then taken as given.
 */
export function verifyTrail(entries: AuditEntry[], checkpoints: Checkpoint[], pub: KeyObject, opts: { fromGenesis: boolean }): VerifyResult {
  const byChain = new Map<string, AuditEntry[]>();
  for (const e of entries) {
    const list = byChain.get(e.chain);
    if (list) list.push(e);
    else byChain.set(e.chain, [e]);
  }
  const kid = keyId(pub);
  const result = (problem: VerifyResult['problem']): VerifyResult => ({ ok: problem === null, entries: entries.length, checkpoints: checkpoints.length, chains: byChain.size, problem });
  const heads = new Map<string, Map<number, string>>();
  for (const [chain, list] of byChain) {
    list.sort((a, b) => a.seq - b.seq);
    const hashes = new Map<number, string>();
    let prev = opts.fromGenesis ? GENESIS : list[0].prev_hash;
    let expectSeq = opts.fromGenesis ? 1 : list[0].seq;
    for (const e of list) {
      if (e.seq !== expectSeq) return result({ chain, seq: expectSeq, reason: e.seq > expectSeq ? `entry ${expectSeq} is missing (next is ${e.seq})` : `entry ${e.seq} appears twice` });
      if (e.prev_hash !== prev) return result({ chain, seq: e.seq, reason: 'its prev_hash does not match the hash of the entry before it' });
      const h = entryHash(e);
      if (h !== e.hash) return result({ chain, seq: e.seq, reason: 'its content does not match its hash (the entry was altered)' });
      hashes.set(e.seq, h);
      prev = h;
      expectSeq++;
    }
    heads.set(chain, hashes);
  }
  for (const c of [...checkpoints].sort((a, b) => a.chain.localeCompare(b.chain) || a.seq - b.seq)) {
    if (c.key_id !== kid) return result({ chain: c.chain, seq: c.seq, reason: `checkpoint signed by another key (${c.key_id.slice(0, 12)})` });
    if (!verify(null, checkpointMessage(c), pub, Buffer.from(c.signature, 'base64'))) return result({ chain: c.chain, seq: c.seq, reason: 'checkpoint signature does not verify' });
    const hashes = heads.get(c.chain);
    const have = hashes?.get(c.seq);
    if (have === undefined) {
      // A segment that ends before this checkpoint cannot check it; a whole trail must hold it.
      const max = hashes ? Math.max(...hashes.keys()) : 0;
      if (opts.fromGenesis || (hashes && c.seq <= max && c.seq >= Math.min(...hashes.keys()))) return result({ chain: c.chain, seq: c.seq, reason: `entry ${c.seq}, signed at a checkpoint, is missing` });
      continue;
    }
    if (have !== c.hash) return result({ chain: c.chain, seq: c.seq, reason: 'the chain up to this checkpoint differs from what was signed' });
  }
  return result(null);
}
