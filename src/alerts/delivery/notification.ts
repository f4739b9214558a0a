/**
 * What a receiver is sent: Alertmanager's webhook payload (version 4: receiver, status, alerts,
 * groupLabels, commonLabels, commonAnnotations, externalURL, groupKey, truncatedAlerts), each
 * alert carrying probewatch's evidence: the concept scores, the features and tokens that drove
 * them, the rule and its rule set, the pack and its version, and links into the API. Pure.
 */
export interface ConceptEvidence {
  score: number;
  threshold: number;
  flagged: boolean;
}

export interface Evidence {
  concepts: Record<string, ConceptEvidence>;
  /** The features that pushed the alert's concept (or every flagged concept) up most. */
  features: Array<{ concept: string; feature: number; label: string; contribution: number | null; activation: number }>;
  /** The tokens that pushed the score up most, under the event's content policy. */
  tokens: Array<{ concept: string; index: number; token: string; contribution: number; message: number | null }>;
  rule: { name: string; set: string };
  pack: { id: string; version: string } | null;
}

export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  alert_id: string;
  event_id: string;
  value: number;
  /** Null when the event could not be read back (e.g. a windowed alert over many events). */
  evidence: Evidence | null;
  links: { alert: string; event: string };
}

export interface Notification {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: NotifiedAlert[];
  probewatch: { notification_id: string; instance: string };
}

function common(maps: Array<Record<string, string>>): Record<string, string> {
  if (!maps.length) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(maps[0])) if (maps.every((m) => m[k] === v)) out[k] = v;
  return out;
}

export function buildNotification(args: {
  id: string;
  instance: string;
  receiver: string;
  groupKey: string;
  groupLabels: Record<string, string>;
  externalURL: string;
  alerts: NotifiedAlert[];
}): Notification {
  const firing = args.alerts.some((a) => a.status === 'firing');
  return {
    version: '4',
    groupKey: args.groupKey,
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: args.receiver,
    groupLabels: args.groupLabels,
    commonLabels: common(args.alerts.map((a) => a.labels)),
    commonAnnotations: common(args.alerts.map((a) => a.annotations)),
    externalURL: args.externalURL,
    alerts: args.alerts,
    probewatch: { notification_id: args.id, instance: args.instance },
  };
}

/** The notification for an integration that does not want resolved alerts, or null if nothing is left. */
export function withoutResolved(n: Notification): Notification | null {
  const alerts = n.alerts.filter((a) => a.status === 'firing');
  return alerts.length ? { ...n, alerts, status: 'firing' } : null;
}

/** At most `max` alerts (0: all), counting the rest in truncatedAlerts, as Alertmanager's max_alerts does. */
export function truncated(n: Notification, max: number): Notification {
  if (!max || n.alerts.length <= max) return n;
  return { ...n, alerts: n.alerts.slice(0, max), truncatedAlerts: n.alerts.length - max };
}

/** One line naming what fired, e.g. `[FIRING:2] HarmfulIntentHigh (tenant acme)`. */
export function title(n: Notification): string {
  const count = n.alerts.filter((a) => a.status === n.status).length;
  const what = n.commonLabels.rule ?? n.groupLabels.rule ?? Object.values(n.groupLabels).join(' ') ?? 'alerts';
  const tenant = n.commonLabels.tenant ? ` (tenant ${n.commonLabels.tenant})` : '';
  return `[${n.status.toUpperCase()}:${count}] ${what || 'alerts'}${tenant}`;
}

/** A short plain-text account of one alert's evidence. */
export function evidenceLines(a: NotifiedAlert): string[] {
  const lines: string[] = [];
  const e = a.evidence;
  if (!e) return [`value ${a.value}`];
  const concepts = Object.entries(e.concepts).map(([c, s]) => `${c} ${s.score.toFixed(3)}${s.flagged ? ' (flagged)' : ''}`);
  lines.push(`scores: ${concepts.join(', ')}`);
  if (e.features.length) lines.push(`features: ${e.features.slice(0, 5).map((f) => `#${f.feature} ${f.label}${f.contribution !== null ? ` (+${f.contribution.toFixed(2)})` : ''}`).join('; ')}`);
  if (e.tokens.length) lines.push(`tokens: ${e.tokens.slice(0, 8).map((t) => JSON.stringify(t.token)).join(' ')}`);
  lines.push(`rule ${e.rule.name} (rule set ${e.rule.set.slice(0, 12)})${e.pack ? `, pack ${e.pack.id}@${e.pack.version}` : ''}`);
  return lines;
}
