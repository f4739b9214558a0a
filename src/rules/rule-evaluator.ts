/**
 * Per-event rule evaluation (pure): a scored event in, alerts out. One broken rule records its
 * error and never stops the others.
 */
import { Alert, alertId, fingerprint } from '../domain/alert';
import type { ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import { EvalContext } from './condition';
import type { EventRule, Rule } from './rule-types';

export interface RuleOutcome {
  alerts: Alert[];
  errors: Array<{ rule: string; message: string }>;
}

export function evalContext(event: ProbeEvent, scored: ScoredEvent): EvalContext {
  const features = new Map<number, number>();
  for (const c of Object.values(scored.concepts)) {
    for (const f of c.features) features.set(f.feature, Math.max(features.get(f.feature) ?? 0, f.activation));
  }
  return {
    concepts: Object.fromEntries(Object.entries(scored.concepts).map(([k, v]) => [k, { score: v.score, flagged: v.flagged, threshold: v.threshold }])),
    features,
    event: {
      id: event.id,
      tenant: event.tenant,
      source: event.source,
      model: event.model,
      user: event.user ?? '',
      text: event.messages.map((m) => m.content).join('\n'),
      metadata: event.metadata ?? {},
    },
  };
}

/** Human-readable evidence: the strongest features of the rule's concept (or of all flagged ones). */
export function evidenceText(scored: ScoredEvent, concept: string | undefined): string {
  const concepts = concept && scored.concepts[concept as keyof ScoredEvent['concepts']] ? [concept] : Object.keys(scored.concepts).filter((c) => scored.concepts[c as keyof ScoredEvent['concepts']].flagged);
  const parts: string[] = [];
  for (const c of concepts) {
    for (const f of scored.concepts[c as keyof ScoredEvent['concepts']].features.slice(0, 3)) {
      const toks = f.top_tokens.map((t) => JSON.stringify(t.token)).join(', ');
      parts.push(`feature ${f.feature} (${f.label}) = ${f.activation}${toks ? ` on ${toks}` : ''}`);
    }
  }
  return parts.join('; ') || 'no SAE feature above threshold';
}

/** `{{ name }}` in annotations; the linter checks the names, the evaluators fill them in. */
export const TEMPLATE_VAR = /\{\{\s*([^}]*?)\s*\}\}/g;

/** Annotations with their template variables filled in (unknown names render empty). */
export function renderAnnotations(templates: Record<string, string>, lookup: (name: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in templates) out[k] = templates[k].replace(TEMPLATE_VAR, (_m, name: string) => lookup(name) ?? '');
  return out;
}

/** Fingerprints of event alerts vary only with the tenant: computed once per (rule, tenant). */
const fingerprints = new WeakMap<EventRule, Map<string, string>>();

function ruleFingerprint(rule: EventRule, tenant: string, labels: Record<string, string>): string {
  let byTenant = fingerprints.get(rule);
  if (!byTenant) {
    byTenant = new Map();
    fingerprints.set(rule, byTenant);
  }
  let fp = byTenant.get(tenant);
  if (fp === undefined) {
    fp = fingerprint(labels);
    if (byTenant.size < 10_000) byTenant.set(tenant, fp);
  }
  return fp;
}

/** Template variables of one event, built on its first alert and shared by the rest. */
function eventVars(event: ProbeEvent, ctx: EvalContext): Record<string, string> {
  const vars: Record<string, string> = {
    'event.id': event.id,
    'event.tenant': event.tenant,
    'event.source': event.source,
    'event.model': event.model,
    'event.user': event.user ?? '',
    'event.timestamp': event.timestamp,
  };
  for (const [k, v] of Object.entries(ctx.concepts)) {
    vars[`concept.${k}.score`] = String(v.score);
    vars[`concept.${k}.threshold`] = String(v.threshold);
  }
  return vars;
}

/** Evaluates the enabled event rules of a set (windowed and sequence rules are skipped here). */
export function evaluateEventRules(rules: readonly Rule[], event: ProbeEvent, scored: ScoredEvent, now: Date = new Date()): RuleOutcome {
  const ctx = evalContext(event, scored);
  const out: RuleOutcome = { alerts: [], errors: [] };
  let shared: Record<string, string> | null = null;
  const evidence = new Map<string, string>();
  let startsAt: string | null = null;
  for (const r of rules) {
    if (r.kind !== 'event' || !r.enabled) continue;
    const rule: EventRule = r;
    try {
      if (!rule.test(ctx)) continue;
      const value = rule.valueOf ? rule.valueOf(ctx) : 1;
      const labels = { alertname: rule.name, severity: rule.severity, tenant: event.tenant, ...rule.labels };
      const fp = ruleFingerprint(rule, event.tenant, labels);
      const vars = (shared ??= eventVars(event, ctx));
      const concept = rule.labels.concept ?? '';
      let ev = evidence.get(concept);
      if (ev === undefined) {
        ev = evidenceText(scored, rule.labels.concept);
        evidence.set(concept, ev);
      }
      const own: Record<string, string> = { value: String(Math.round(value * 1000) / 1000), rule: rule.name, severity: rule.severity, evidence: ev };
      const lookup = (name: string): string | undefined => own[name] ?? (name.startsWith('labels.') ? (labels as Record<string, string>)[name.slice(7)] : vars[name]);
      startsAt ??= now.toISOString();
      out.alerts.push({
        alert_id: alertId(fp, event.id),
        fingerprint: fp,
        rule: rule.name,
        severity: rule.severity,
        labels,
        annotations: renderAnnotations(rule.annotations, lookup),
        value,
        event_id: event.id,
        tenant: event.tenant,
        starts_at: startsAt,
        kind: 'event',
      });
    } catch (e) {
      out.errors.push({ rule: rule.name, message: (e as Error).message });
    }
  }
  return out;
}
