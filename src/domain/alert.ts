/** Alerts, their severity and identity (pure). */
import { createHash } from 'node:crypto';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];


export interface Alert {
  /** Unique per (fingerprint, event): a redelivered event produces the same id, so no duplicate. */
  alert_id: string;
  /** Stable identity of the alert series, from its labels only (never from changing values). */
  fingerprint: string;
  rule: string;
  severity: Severity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  value: number;
  event_id: string;
  tenant: string;
  starts_at: string;
  /** event (one event), windowed (an aggregate over a window) or sequence (ordered events). */
  kind?: AlertKind;
  /** When the evidence happened: the event's time, a windowed alert's activation, a sequence's last event. */
  ts?: string;
  /** Set when a windowed alert resolves. */
  ends_at?: string | null;
}

export type AlertKind = 'event' | 'windowed' | 'sequence';

export function fingerprint(labels: Record<string, string>): string {
  const canonical = Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join('\u0001');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function alertId(fp: string, eventId: string): string {
  return createHash('sha256').update(`${fp}\u0000${eventId}`).digest('hex').slice(0, 24);
}
