/**
 * Per-rule health (pure): when each rule last ran, how long it took, its last error. Event rules
 * run per event, so their duration is that of the whole event evaluation (timing each of a
 * thousand rules per event would cost more than the rules); scheduled rules are timed each.
 */
export interface RuleHealth {
  rule: string;
  kind: string;
  lastEvaluation: string | null;
  lastDurationMs: number | null;
  evaluations: number;
  errors: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

export class RuleHealthRegistry {
  private readonly byRule = new Map<string, RuleHealth>();
  /** Event rules run together, per event: one shared record (cheap on the hot path). */
  private readonly eventRuns = { atMs: 0, durationMs: 0, count: 0 };

  eventRulesRan(atMs: number, durationMs: number, errors: ReadonlyArray<{ rule: string; message: string }>): void {
    this.eventRuns.atMs = atMs;
    this.eventRuns.durationMs = durationMs;
    this.eventRuns.count++;
    for (const e of errors) {
      const h = this.byRule.get(e.rule);
      if (!h) continue;
      h.errors++;
      h.lastError = e.message;
      h.lastErrorAt = new Date(atMs).toISOString();
    }
  }

  /** Keeps the health of rules that stay, adds new ones, drops removed ones. */
  sync(rules: ReadonlyArray<{ name: string; kind: string }>): void {
    const names = new Set(rules.map((r) => r.name));
    for (const k of [...this.byRule.keys()]) if (!names.has(k)) this.byRule.delete(k);
    for (const r of rules) {
      const h = this.byRule.get(r.name);
      if (!h) this.byRule.set(r.name, { rule: r.name, kind: r.kind, lastEvaluation: null, lastDurationMs: null, evaluations: 0, errors: 0, lastError: null, lastErrorAt: null });
      else h.kind = r.kind;
    }
  }

  ran(rule: string, at: Date, durationMs: number, error?: string): void {
    const h = this.byRule.get(rule);
    if (!h) return;
    h.lastEvaluation = at.toISOString();
    h.lastDurationMs = durationMs;
    h.evaluations++;
    if (error !== undefined) {
      h.errors++;
      h.lastError = error;
      h.lastErrorAt = at.toISOString();
    }
  }

  get(rule: string): RuleHealth | undefined {
    const h = this.byRule.get(rule);
    if (!h || h.kind !== 'event' || !this.eventRuns.count) return h;
    return { ...h, lastEvaluation: new Date(this.eventRuns.atMs).toISOString(), lastDurationMs: this.eventRuns.durationMs, evaluations: this.eventRuns.count };
  }

  all(): RuleHealth[] {
    return [...this.byRule.keys()].map((k) => this.get(k) as RuleHealth);
  }
}
