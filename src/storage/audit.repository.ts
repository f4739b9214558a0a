/** The audit trail's tables: entries (append-only) and signed checkpoints. */
import type { ClickHouseClient } from '@clickhouse/client';

import type { AuditEntry, Checkpoint } from '../domain/audit-chain';
import { chTime, fromChTime } from './events.repository';


export class AuditRepository {
  constructor(private readonly client: ClickHouseClient) {}

  async append(entries: AuditEntry[]): Promise<void> {
    if (!entries.length) return;
    await this.client.insert({ table: 'audit_log', values: entries.map((e) => ({ ...e, at: chTime(e.at) })), format: 'JSONEachRow' });
  }

  async checkpoint(c: Checkpoint): Promise<void> {
    await this.client.insert({ table: 'audit_checkpoints', values: [c], format: 'JSONEachRow' });
  }

  /** The last entry of a chain (to continue it after a restart). */
  async head(chain: string): Promise<{ seq: number; hash: string } | null> {
    const res = await this.client.query({
      query: 'SELECT seq, hash FROM audit_log WHERE chain = {chain:String} ORDER BY seq DESC LIMIT 1',
      query_params: { chain }, format: 'JSONEachRow',
    });
    const rows = await res.json<{ seq: string; hash: string }>();
    return rows.length ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  }

  async lastCheckpoint(chain: string): Promise<number> {
    const res = await this.client.query({ query: 'SELECT max(seq) AS s FROM audit_checkpoints WHERE chain = {chain:String}', query_params: { chain }, format: 'JSONEachRow' });
    return Number((await res.json<{ s: string }>())[0]?.s ?? 0);
  }

  private static readonly COLS = 'chain, seq, toString(at) AS at_text, actor, action, target, tenant, detail, prev_hash, hash';

  private static entry(r: Record<string, string>): AuditEntry {
    return { chain: r.chain, seq: Number(r.seq), at: fromChTime(r.at_text), actor: r.actor, action: r.action, target: r.target, tenant: r.tenant, detail: r.detail, prev_hash: r.prev_hash, hash: r.hash };
  }

  async list(q: { from?: string; to?: string; action?: string; actor?: string; tenants: string[] | null; limit: number }): Promise<AuditEntry[]> {
    const cond: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if (q.from) (cond.push('at >= parseDateTime64BestEffort({from:String}, 3)'), (params.from = q.from));
    if (q.to) (cond.push('at < parseDateTime64BestEffort({to:String}, 3)'), (params.to = q.to));
    if (q.action) (cond.push('action = {action:String}'), (params.action = q.action));
    if (q.actor) (cond.push('actor = {actor:String}'), (params.actor = q.actor));
    if (q.tenants) (cond.push('has({tenants:Array(String)}, tenant)'), (params.tenants = q.tenants));
    const res = await this.client.query({
      query: `SELECT ${AuditRepository.COLS} FROM audit_log ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY at DESC, chain, seq DESC LIMIT {limit:UInt32}`,
      query_params: params, format: 'JSONEachRow',
    });
    return (await res.json<Record<string, string>>()).map(AuditRepository.entry);
  }

  /** Every entry (or those in [from, to)), in chain order, for verification and export. */
  async entries(range: { from?: string; to?: string } = {}): Promise<AuditEntry[]> {
    const cond: string[] = [];
    const params: Record<string, unknown> = {};
    if (range.from) (cond.push('at >= parseDateTime64BestEffort({from:String}, 3)'), (params.from = range.from));
    if (range.to) (cond.push('at < parseDateTime64BestEffort({to:String}, 3)'), (params.to = range.to));
    const res = await this.client.query({
      query: `SELECT ${AuditRepository.COLS} FROM audit_log ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY chain, seq`,
      query_params: params, format: 'JSONEachRow',
    });
    return (await res.json<Record<string, string>>()).map(AuditRepository.entry);
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const res = await this.client.query({ query: 'SELECT chain, seq, hash, at, signature, key_id FROM audit_checkpoints ORDER BY chain, seq', format: 'JSONEachRow' });
    return (await res.json<Record<string, string>>()).map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash, at: r.at, signature: r.signature, key_id: r.key_id }));
  }
}
