/**
 * Appending to this instance's hash chain, signing checkpoints, verifying the stored trail, and
 * exporting a bundle (entries, checkpoints, public key) that a reviewer verifies offline.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { AuditEntry, AuditRecord, Checkpoint, entryHash, GENESIS, signCheckpoint, verifyTrail, VerifyResult } from '../../domain/audit-chain';
import type { AuditRepository } from '../../storage/audit.repository';

export const BUNDLE_FORMAT = 'probewatch-audit-bundle/1';

export interface AuditBundle {
  format: typeof BUNDLE_FORMAT;
  exported_at: string;
  range: { from: string | null; to: string | null };
  public_key: string;
  entries: AuditEntry[];
  checkpoints: Checkpoint[];
}

/** The Ed25519 signing key: read from `file`, or generated there (mode 0600) when absent. */
export function loadSigningKey(file: string): { privateKey: KeyObject; publicKey: KeyObject; created: boolean } {
  if (existsSync(file)) {
    const privateKey = createPrivateKey(readFileSync(file));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
    return { privateKey, publicKey: createPublicKey(privateKey), created: false };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { privateKey, publicKey, created: true };
}

export class AuditTrail {
  private seq = 0;
  private prev = GENESIS;
  private sinceCheckpoint = 0;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: AuditRepository,
    readonly chain: string,
    readonly signingKey: KeyObject,
    readonly publicKey: KeyObject,
    private readonly checkpointEvery = 100,
    private readonly now: () => Date = () => new Date(),
  ) {}

  repo(): AuditRepository {
    return this.store;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.busy.then(fn);
    this.busy = p.catch(() => undefined);
    return p;
  }

  open(): Promise<void> {
    return this.serial(async () => {
      const head = await this.store.head(this.chain);
      if (head) {
        this.seq = head.seq;
        this.prev = head.hash;
        this.sinceCheckpoint = head.seq - (await this.store.lastCheckpoint(this.chain));
      }
    });
  }

  /** Appends in order; resolves once the entries are stored (and a checkpoint, when one is due). */
  append(records: AuditRecord[]): Promise<AuditEntry[]> {
    return this.serial(async () => {
      const at = this.now().toISOString();
      const out: AuditEntry[] = [];
      let seq = this.seq;
      let prev = this.prev;
      for (const r of records) {
        const e = { ...r, chain: this.chain, seq: ++seq, at, prev_hash: prev };
        const full = { ...e, hash: entryHash(e) };
        out.push(full);
        prev = full.hash;
      }
      await this.store.append(out);
      this.seq = seq;
      this.prev = prev;
      this.sinceCheckpoint += out.length;
      if (this.sinceCheckpoint >= this.checkpointEvery) await this.signHead();
      return out;
    });
  }

  /** Signs the chain's head now (if anything was appended since the last checkpoint). */
  checkpoint(): Promise<Checkpoint | null> {
    return this.serial(async () => (this.sinceCheckpoint > 0 ? this.signHead() : null));
  }

  private async signHead(): Promise<Checkpoint> {
    const c = signCheckpoint({ chain: this.chain, seq: this.seq, hash: this.prev, at: this.now().toISOString() }, this.signingKey);
    await this.store.checkpoint(c);
    this.sinceCheckpoint = 0;
    return c;
  }

  /** Every chain in the store, from its genesis, against this service's public key. */
  async verify(): Promise<VerifyResult> {
    await this.busy;
    return verifyTrail(await this.store.entries(), await this.store.checkpoints(), this.publicKey, { fromGenesis: true });
  }

  async export(range: { from?: string; to?: string }): Promise<AuditBundle> {
    await this.checkpoint();
    const entries = await this.store.entries(range);
    const spans = new Map<string, [number, number]>();
    for (const e of entries) {
      const s = spans.get(e.chain);
      spans.set(e.chain, s ? [Math.min(s[0], e.seq), Math.max(s[1], e.seq)] : [e.seq, e.seq]);
    }
    const checkpoints = (await this.store.checkpoints()).filter((c) => {
      const s = spans.get(c.chain);
      return s !== undefined && c.seq >= s[0] && c.seq <= s[1];
    });
    return {
      format: BUNDLE_FORMAT, exported_at: this.now().toISOString(), range: { from: range.from ?? null, to: range.to ?? null },
      public_key: this.publicKey.export({ type: 'spki', format: 'pem' }).toString(), entries, checkpoints,
    };
  }
}

/** Offline verification of an exported bundle: its entries, its checkpoints, its public key. */
export function verifyBundle(text: string): VerifyResult & { signed_through: Record<string, number> } {
  const b = JSON.parse(text) as AuditBundle;
  if (b.format !== BUNDLE_FORMAT) throw new Error(`not a probewatch audit bundle (format ${JSON.stringify(b.format)})`);
  const pub = createPublicKey(b.public_key);
  const r = verifyTrail(b.entries, b.checkpoints, pub, { fromGenesis: false });
  const signed: Record<string, number> = {};
  for (const c of b.checkpoints) signed[c.chain] = Math.max(signed[c.chain] ?? 0, c.seq);
  if (r.ok && b.entries.length && !b.checkpoints.length) {
    return { ...r, ok: false, problem: { chain: b.entries[0].chain, seq: b.entries[0].seq, reason: 'the bundle has no signed checkpoint: nothing ties it to the signing key' }, signed_through: signed };
  }
  return { ...r, signed_through: signed };
}
