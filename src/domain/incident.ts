/**
 * Serious incidents (EU AI Act, Regulation (EU) 2024/1689, Art. 73): an alert a person marks as
 * one gets the reporting deadline of its category, counted from when the provider became aware:
 * - `death`: the death of a person, 10 days (Art. 73(4));
 * - `widespread_or_critical_infrastructure`: a widespread infringement, or a serious and
 *   irreversible disruption of critical infrastructure (Art. 3(49)(b)), 2 days (Art. 73(3));
 * - `other`: every other serious incident, 15 days (Art. 73(2)).
 * The deadline is the latest allowed: Art. 73(2) asks for the report immediately after a causal
 * link is established or reasonably likely.
 */
export const INCIDENT_DAYS = { death: 10, widespread_or_critical_infrastructure: 2, other: 15 } as const;
export type IncidentCategory = keyof typeof INCIDENT_DAYS;
export const INCIDENT_CATEGORIES = Object.keys(INCIDENT_DAYS) as IncidentCategory[];

export interface Incident {
  tenant: string;
  alert_id: string;
  fingerprint: string;
  rule: string;
  category: IncidentCategory;
  summary: string;
  aware_at: string;
  deadline: string;
  /** When the report went to the market surveillance authority; null while not yet reported. */
  reported_at: string | null;
  marked_by: string;
  updated_at: string;
}

export type IncidentStatus = 'reported' | 'reported_late' | 'open' | 'overdue';

export function incidentDeadline(category: IncidentCategory, awareAt: string): string {
  return new Date(Date.parse(awareAt) + INCIDENT_DAYS[category] * 86_400_000).toISOString();
}

export function incidentStatus(i: Pick<Incident, 'deadline' | 'reported_at'>, now: number): IncidentStatus {
  const due = Date.parse(i.deadline);
  if (i.reported_at) return Date.parse(i.reported_at) <= due ? 'reported' : 'reported_late';
  return now > due ? 'overdue' : 'open';
}
