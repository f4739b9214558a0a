/**
 * Ordered events per key within a span (pure). Rows arrive sorted by key, then time; each row says
 * which steps it satisfies. A match is events e1 < e2 < … < en of one key, ei satisfying step i,
 * with t(en) - t(e1) <= within. For each completing event the tightest chain (latest start) is
 * reported, so a burst of step-1 events followed by one step-2 event is one match.
 */
export interface SequenceRow {
  key: string;
  eventId: string;
  tsMs: number;
  steps: boolean[];
}

export interface SequenceMatch {
  key: string;
  events: Array<{ eventId: string; tsMs: number }>;
}

export function matchSequences(rows: readonly SequenceRow[], stepCount: number, withinMs: number): SequenceMatch[] {
  const out: SequenceMatch[] = [];
  let key: string | null = null;
  // chains[i]: the latest-starting chain that satisfies steps 0..i so far.
  let chains: Array<Array<{ eventId: string; tsMs: number }> | null> = [];
  for (const r of rows) {
    if (r.key !== key) {
      key = r.key;
      chains = new Array<null>(stepCount).fill(null);
    }
    const ev = { eventId: r.eventId, tsMs: r.tsMs };
    // Downwards, so one event never fills two steps of the same chain.
    for (let i = stepCount - 1; i >= 1; i--) {
      const prev = chains[i - 1];
      if (!r.steps[i] || !prev || prev[prev.length - 1].tsMs > r.tsMs) continue;
      if (r.tsMs - prev[0].tsMs > withinMs) continue;
      const chain = [...prev, ev];
      if (i === stepCount - 1) out.push({ key, events: chain });
      else {
        const cur = chains[i];
        if (!cur || cur[0].tsMs <= chain[0].tsMs) chains[i] = chain;
      }
    }
    if (r.steps[0]) chains[0] = [ev];
  }
  return out;
}
