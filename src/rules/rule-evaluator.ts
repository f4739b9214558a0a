/**
 * Per-event rule evaluation (pure): a scored event in, alerts out. One broken rule records its
 * error and never stops the others.
 */
import { Alert, alertId, fingerprint } from '../alerts/alert';
import type { ProbeEvent } from '../ingest/event-contract';
import type { ScoredEvent } from '../probe/probe-engine';
import { EvalContext, evaluate, readNumber } from './condition';
import type { EventRule, Rule } from './rule-set';

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

function render(tpl: string, vars: Record<string, string>): string {
  return tpl.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_m, name: string) => vars[name] ?? '');
}

export function renderTemplate(tpl: string, vars: Record<string, string>): string {
  return render(tpl, vars);
}

/** Evaluates the enabled event rules of a set (windowed and sequence rules are skipped here). */
export function evaluateEventRules(rules: readonly Rule[], event: ProbeEvent, scored: ScoredEvent, now: Date = new Date()): RuleOutcome {
  const ctx = evalContext(event, scored);
  const out: RuleOutcome = { alerts: [], errors: [] };
  for (const r of rules) {
    if (r.kind !== 'event' || !r.enabled) continue;
    const rule: EventRule = r;
    try {
      if (!evaluate(rule.condition, ctx)) continue;
      const value = rule.value ? readNumber(rule.value, ctx) : 1;
      const labels = { alertname: rule.name, severity: rule.severity, tenant: event.tenant, ...rule.labels };
      const fp = fingerprint(labels);
      const vars: Record<string, string> = {
        value: String(Math.round(value * 1000) / 1000),
        rule: rule.name,
        severity: rule.severity,
        evidence: evidenceText(scored, rule.labels.concept),
        'event.id': event.id,
        'event.tenant': event.tenant,
        'event.source': event.source,
        'event.model': event.model,
        'event.user': event.user ?? '',
        'event.timestamp': event.timestamp,
      };
      for (const [k, v] of Object.entries(labels)) vars[`labels.${k}`] = v;
      for (const [k, v] of Object.entries(ctx.concepts)) {
        vars[`concept.${k}.score`] = String(v.score);
        vars[`concept.${k}.threshold`] = String(v.threshold);
      }
      out.alerts.push({
        alert_id: alertId(fp, event.id),
        fingerprint: fp,
        rule: rule.name,
        severity: rule.severity,
        labels,
        annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, t]) => [k, render(t, vars)])),
        value,
        event_id: event.id,
        tenant: event.tenant,
        starts_at: now.toISOString(),
        kind: 'event',
      });
    } catch (e) {
      out.errors.push({ rule: rule.name, message: (e as Error).message });
    }
  }
  return out;
}
