/**
 * Scored events, concept scores and feature evidence. Every read takes the tenant explicitly
 * or says it reads across tenants (admin scope), so no query forgets it by accident.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import type { ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import type { BatchWriter } from './batch-writer';
import { applyMetadataPolicy, applyPolicy, ContentPolicy, Digest, PolicyView, policyView, redactScored, sha256 } from './content-policy';

export type { TenantScope } from '../domain/access';
import type { TenantScope } from '../domain/access';

export interface EventQuery {
  scope: TenantScope;
  from?: string;
  to?: string;
  concept?: string;
  minScore?: number;
  limit: number;
}

export function chTime(iso: string): string {
  // ClickHouse DateTime64(3) text form, UTC.
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

/** The same text form from epoch milliseconds. */
export function chMillis(ms: number): string {
  return chTime(new Date(ms).toISOString());
}

/** ISO-8601 UTC from ClickHouse's DateTime64 text form (the inverse of chTime). */
export function fromChTime(ch: string): string {
  return ch.includes('T') ? ch : `${ch.replace(' ', 'T')}Z`;
}

let lastVersion = 0;
/**
 * A ReplacingMergeTree version for a row written now: strictly increasing within the process and
 * ahead of wall time (microseconds), so the newest write of a row wins.
 */
export function nextVersion(): number {
  lastVersion = Math.max(lastVersion + 1, Date.now() * 1000);
  return lastVersion;
}

export class EventsRepository {
  /** `digest`: the deployment's keyed digest (Pseudonyms), for user ids and hashed metadata. */
  constructor(
    private readonly client: ClickHouseClient,
    private readonly writer: BatchWriter,
    private readonly policyOf: (tenant: string) => ContentPolicy,
    private readonly digest: Digest,
  ) {}

  /**
   * Resolves when every row of the event is durably stored. Idempotent by (tenant, event id).
   * Messages, metadata, the user id and the token evidence all obey the content policy;
   * content_sha256 is always of the original messages (it matches content, never reveals it).
   * `view`: the policy's view of the event when the caller already has it (the pipeline computes
   * it once per event); without it the messages are scanned here.
   */
  async store(event: ProbeEvent, scored: ScoredEvent, receivedAt: Date, view?: PolicyView): Promise<void> {
    const ts = chTime(event.timestamp);
    const version = receivedAt.getTime();
    const policy = this.policyOf(event.tenant);
    // One scan of the messages serves both the stored text and the evidence.
    const { spans, user } = view ?? (await policyView(event.messages, event.user, policy, this.digest));
    const [messages, metadata, redactedResult] = await Promise.all([
      applyPolicy(event.messages, policy, spans),
      applyMetadataPolicy(event.metadata ?? {}, policy, this.digest),
      redactScored(event.messages, scored, policy, spans),
    ]);
    const userId = user ?? '';
    const eventRow = {
      tenant: event.tenant,
      event_id: event.id,
      ts,
      received_at: chTime(receivedAt.toISOString()),
      source: event.source,
      model: event.model,
      user_id: userId,
      content_policy: policy,
      messages: JSON.stringify(messages),
      content_sha256: sha256(JSON.stringify(event.messages)),
      metadata: JSON.stringify(metadata),
      pack_id: scored.pack.id,
      pack_version: scored.pack.version,
      tokens: scored.tokens,
      truncated: scored.truncated ? 1 : 0,
      result: JSON.stringify(redactedResult),
      version,
    };
    const scoreRows = Object.entries(scored.concepts).map(([concept, r]) => ({
      tenant: event.tenant, concept, ts, event_id: event.id, score: r.score, sae_score: r.scores.sae, dense_score: r.scores.dense,
      threshold: r.threshold, flagged: r.flagged ? 1 : 0, detector: r.detector, source: event.source, model: event.model, user_id: userId, pack_version: scored.pack.version,
    }));
    const featureRows = Object.entries(redactedResult.concepts).flatMap(([concept, r]) => r.features.map((f) => ({
      tenant: event.tenant, feature: f.feature, ts, event_id: event.id, concept, activation: f.activation, mean_activation: f.mean_activation,
      top_token: f.top_tokens[0]?.token ?? '', top_token_index: f.top_tokens[0]?.index ?? 0,
    })));
    // `events` last: the writer inserts it after the others (its commit marker for the replay),
    // and queued last, a flush it triggers by size already holds the other rows.
    await Promise.all([
      this.writer.write('concept_scores', scoreRows),
      this.writer.write('feature_activations', featureRows),
      this.writer.write('events', [eventRow]),
    ]);
  }

  async get(scope: TenantScope, id: string): Promise<Record<string, unknown> | null> {
    const where = 'tenants' in scope ? 'has({tenants:Array(String)}, tenant) AND event_id = {id:String}' : 'event_id = {id:String}';
    const res = await this.client.query({
      query: `SELECT tenant, event_id, ts, received_at, source, model, user_id, content_policy, messages, metadata, pack_id, pack_version, tokens, truncated, result
              FROM events FINAL WHERE ${where} LIMIT 1`,
      query_params: { id, ...('tenants' in scope ? { tenants: scope.tenants } : {}) },
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, string | number>>();
    if (!rows.length) return null;
    const r = rows[0];
    const result = JSON.parse(String(r.result)) as ScoredEvent;
    return {
      id: r.event_id, tenant: r.tenant, timestamp: r.ts, received_at: r.received_at, source: r.source, model: r.model, user: r.user_id || null,
      content_policy: r.content_policy, messages: JSON.parse(String(r.messages)), metadata: JSON.parse(String(r.metadata)),
      pack: { id: r.pack_id, version: r.pack_version }, tokens: Number(r.tokens), truncated: Number(r.truncated) === 1, ...(result.dropped ? { dropped: result.dropped } : {}), concepts: result.concepts,
    };
  }

  async list(q: EventQuery): Promise<Array<Record<string, unknown>>> {
    const cond: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if ('tenants' in q.scope) {
      cond.push('has({tenants:Array(String)}, tenant)');
      params.tenants = q.scope.tenants;
    }
    if (q.from) {
      cond.push('ts >= parseDateTime64BestEffort({from:String}, 3)');
      params.from = q.from;
    }
    if (q.to) {
      cond.push('ts < parseDateTime64BestEffort({to:String}, 3)');
      params.to = q.to;
    }
    const scoreCond: string[] = [];
    if (q.concept) {
      scoreCond.push('concept = {concept:String}');
      params.concept = q.concept;
    }
    if (q.minScore !== undefined) {
      scoreCond.push('score >= {minScore:Float64}');
      params.minScore = q.minScore;
    }
    const where = cond.length ? `WHERE ${cond.join(' AND ')}` : '';
    const scoreWhere = [...cond, ...scoreCond];
    const query = `
      SELECT tenant, event_id, ts, source, model,
             groupArray((concept, score, flagged)) AS concepts
      FROM concept_scores FINAL
      ${scoreWhere.length ? `WHERE ${scoreWhere.join(' AND ')}` : where}
      GROUP BY tenant, event_id, ts, source, model
      ORDER BY ts DESC, event_id
      LIMIT {limit:UInt32}`;
    const res = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
    const rows = await res.json<{ tenant: string; event_id: string; ts: string; source: string; model: string; concepts: Array<[string, number, number]> }>();
    return rows.map((r) => ({
      id: r.event_id, tenant: r.tenant, timestamp: r.ts, source: r.source, model: r.model,
      scores: Object.fromEntries(r.concepts.map(([c, s, f]) => [c, { score: Math.round(s * 1e4) / 1e4, flagged: Number(f) === 1 }])),
    }));
  }

  async count(table: 'events' | 'concept_scores' | 'alerts' | 'dead_letters'): Promise<number> {
    const final = table === 'dead_letters' ? '' : 'FINAL';
    const res = await this.client.query({ query: `SELECT count() AS n FROM ${table} ${final}`, format: 'JSONEachRow' });
    return Number((await res.json<{ n: string }>())[0].n);
  }
}
