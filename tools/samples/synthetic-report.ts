/**
 * A fixed, synthetic fortnight of monitoring figures for the sample reports (docs/sample-report.*)
 * and the report rendering tests: a ReportSource whose answers depend only on the period, a fixed
 * Ed25519 key (derived from a constant seed, never used for anything real), and a fixed clock.
 * The numbers come from a small deterministic generator, so every run gives the same report.
 */
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ReportContext, ReportSource } from '../../src/ops/reports/report';
import type { PackManifest } from '../../src/probe/pack-manifest';
import { ACK_BUCKETS, ReportPeriod } from '../../src/storage/report.repository';

export const SAMPLE_PERIOD: ReportPeriod = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-15T00:00:00.000Z' };
export const SAMPLE_GENERATED_AT = '2026-11-15T06:00:00.000Z';
const ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist-tools' ? ['..'] : []));

/** An Ed25519 key from a constant 32-byte seed (PKCS#8 DER: fixed prefix + seed). For samples only. */
export function sampleKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  const seed = Buffer.alloc(32, 7);
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Deterministic numbers in [0, 1) from a string (FNV-1a, then an xorshift step). */
function unit(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h << 13; h ^= h >>> 17; h ^= h << 5;
  return (h >>> 0) / 0x1_0000_0000;
}

function days(p: ReportPeriod): string[] {
  const out: string[] = [];
  for (let t = Date.parse(p.from); t < Date.parse(p.to); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

const CONCEPTS = ['deception', 'harmful_intent', 'prompt_injection', 'sycophancy'];
const FLAG_RATE: Record<string, number> = { deception: 0.012, harmful_intent: 0.02, prompt_injection: 0.035, sycophancy: 0.008 };
const SEVERITY_RULE: Array<[string, string]> = [['critical', 'Harmful intent, high confidence'], ['high', 'Prompt injection in tool output'], ['medium', 'Deception streak'], ['low', 'Sycophancy rate'], ['info', 'Coverage drop']];

export function syntheticSource(): ReportSource {
  const scoredOn = (d: string): number => 4000 + Math.round(unit(`events ${d}`) * 2500) + (new Date(`${d}T00:00:00Z`).getUTCDay() % 6 === 0 ? -1500 : 0);
  const byDay = (p: ReportPeriod): Array<{ day: string; concept: string; events: number; flagged: number }> => days(p).flatMap((d) => CONCEPTS.map((c) => {
    const events = scoredOn(d);
    const spike = d === '2026-11-09' && c === 'prompt_injection' ? 3 : 1;
    return { day: d, concept: c, events, flagged: Math.round(events * FLAG_RATE[c] * spike * (0.6 + unit(`${c} ${d}`) * 0.8)) };
  }));
  const alertsByDay = (p: ReportPeriod): Array<{ day: string; severity: string; alerts: number }> => days(p).flatMap((d) => SEVERITY_RULE.map(([s], i) => ({ day: d, severity: s, alerts: Math.floor(unit(`alerts ${s} ${d}`) * (2 + i * 2)) + (d === '2026-11-09' && s === 'high' ? 9 : 0) })))
    .filter((a) => a.alerts > 0);
  return {
    async coverage(p) {
      return { days: days(p).map((d) => ({ day: d, scored: scoredOn(d), dead_lettered: Math.floor(unit(`dead ${d}`) * 6) })), models: ['support-assistant-v3', 'triage-agent-v1'], packs: ['smollm2-135m-safety@2.2.0'], tenants: ['acme', 'globex'] };
    },
    async detections(p) {
      const rows = byDay(p);
      return CONCEPTS.map((c) => {
        const mine = rows.filter((r) => r.concept === c);
        const q = FLAG_RATE[c] * 10;
        return { concept: c, events: mine.reduce((t, r) => t + r.events, 0), flagged: mine.reduce((t, r) => t + r.flagged, 0), p50: Math.round(q * 1000) / 10_000, p90: Math.round(q * 6000) / 10_000, p99: Math.round(Math.min(0.99, q * 20) * 10_000) / 10_000 };
      });
    },
    async detectionsByDay(p) {
      return byDay(p);
    },
    async alerts(p) {
      const rows = alertsByDay(p);
      return SEVERITY_RULE.map(([s, rule], i) => {
        const n = rows.filter((r) => r.severity === s).reduce((t, r) => t + r.alerts, 0);
        return { rule, severity: s, alerts: n, series: Math.max(1, Math.round(n / 3)), acknowledged: Math.round(n * (0.95 - i * 0.1)), median_ack_seconds: [95, 240, 1320, 5400, null][i] };
      }).filter((a) => a.alerts > 0).sort((a, b) => b.alerts - a.alerts || a.rule.localeCompare(b.rule));
    },
    async alertsByDay(p) {
      return alertsByDay(p);
    },
    async timeToAcknowledge(p) {
      const total = alertsByDay(p).reduce((t, r) => t + r.alerts, 0);
      const shares = [0.22, 0.31, 0.17, 0.11, 0.05, 0.02, 0.01];
      const rows = ACK_BUCKETS.map((b, i) => ({ ...b, alerts: Math.round(total * shares[i]) }));
      return [...rows, { bucket: 'not acknowledged', max_seconds: null, alerts: total - rows.reduce((t, r) => t + r.alerts, 0) }];
    },
    async silences() {
      return [{ id: '5f0c2a9e-6d1b-4c51-9a57-1d7e1f2b3c4d', created_by: 'ana@acme.example', comment: 'globex load test, expected injection probes', starts_at: '2026-11-09 08:00:00.000', ends_at: '2026-11-09 12:00:00.000', matchers: '[{"name":"tenant","value":"globex","isRegex":false,"isEqual":true}]' }];
    },
    async ruleChanges() {
      return [
        { at: '2026-11-03 09:12:44.000', ok: 1, hash: '9c1e4b7f20d3', previous_hash: '41aa07c9e5b2', rules: 12 },
        { at: '2026-11-10 16:40:02.000', ok: 0, hash: 'e07d5a11c9f4', previous_hash: '9c1e4b7f20d3', rules: 12 },
      ];
    },
    async incidents() {
      return [
        { tenant: 'acme', alert_id: '7f3a91c0d2e4b5a6', rule: 'Harmful Intent Request', category: 'other', summary: 'step-by-step poisoning instructions reached an end user before the block rule shipped', aware_at: '2026-11-06 10:15:00.000', deadline: '2026-11-21 10:15:00.000', reported_at: '2026-11-13 17:02:00.000' },
        { tenant: 'globex', alert_id: '0b8e27d4c19a6f35', rule: 'Prompt Injection Attempt', category: 'widespread_or_critical_infrastructure', summary: 'planted instruction in a ticket made the support agent disable alarms at three sites', aware_at: '2026-11-12 22:40:00.000', deadline: '2026-11-14 22:40:00.000', reported_at: null },
      ];
    },
    async auditActions() {
      return [
        { at: '2026-11-01 00:00:05.000', actor: 'probewatch', action: 'service.start', target: 'probewatch-0', detail: '{}' },
        { at: '2026-11-03 09:12:44.000', actor: 'bo@acme.example', action: 'alerting.reload', target: 'alerting.yaml', detail: '{}' },
        { at: '2026-11-12 14:20:31.000', actor: 'dpo@acme.example', action: 'data.erase', target: 'sha256:1b4f0e9868e2', detail: '{}' },
        { at: '2026-11-15 03:17:02.000', actor: 'probewatch', action: 'retention.drop', target: 'events/202608', detail: '{"table":"events","partition":"202608","rows":412877}' },
      ];
    },
  };
}

export function samplePack(): PackManifest {
  return JSON.parse(readFileSync(path.join(ROOT, 'probes', 'smollm2-135m-safety', 'manifest.json'), 'utf8')) as PackManifest;
}

/** Everything buildReport needs, fixed: the same call gives the same report, byte for byte. */
export function sampleContext(): ReportContext {
  const key = sampleKey();
  return {
    repo: syntheticSource(), pack: samplePack(), serviceVersion: '0.1.0', contentPolicy: { default: 'redacted', by_tenant: { globex: 'hash' } }, retentionDays: 90,
    verify: async () => ({ ok: true, entries: 1842, checkpoints: 37, chains: 2, problem: null }), signingKey: key.privateKey, publicKey: key.publicKey, now: () => new Date(SAMPLE_GENERATED_AT),
  };
}
