import type { ClickHouseClient } from '@clickhouse/client';

import { BatchWriter } from '../../../src/storage/batch-writer';

/** A fake client beside the real chDB used in the integration tests: records inserted rows. */
function recordingClient(): { client: ClickHouseClient; inserted: Array<Record<string, unknown>> } {
  const inserted: Array<Record<string, unknown>> = [];
  const client = {
    insert: async ({ values }: { values: Array<Record<string, unknown>> }) => {
      // What goes over the wire: ClickHouse refuses lone-surrogate escapes in JSON input.
      const wire = JSON.stringify(values);
      if (/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i.test(wire)) throw new Error('Cannot parse escape sequence: missing second part of surrogate pair');
      inserted.push(...values);
    },
  } as unknown as ClickHouseClient;
  return { client, inserted };
}

describe('batch writer', () => {
  it('inserts an event\'s events row (its commit marker) after its other tables, and not at all when one of them fails', async () => {
    const order: string[] = [];
    let failScores = true;
    const client = {
      insert: async ({ table }: { table: string }) => {
        if (table === 'concept_scores' && failScores) {
          failScores = false;
          throw new Error('killed mid-flush');
        }
        order.push(table);
      },
    } as unknown as ClickHouseClient;
    const w = new BatchWriter(client, { maxRows: 100, flushMs: 5, maxBackoffMs: 100 });
    // written in the order EventsRepository.store writes them
    const done = Promise.all([w.write('events', [{ id: 1 }]), w.write('concept_scores', [{ id: 1 }]), w.write('feature_activations', [{ id: 1 }])]);
    await new Promise((r) => setTimeout(r, 30));
    // the first flush failed on concept_scores: the events row did not go in before it
    expect(order).not.toContain('events');
    await done;
    expect(order.indexOf('events')).toBeGreaterThan(order.indexOf('concept_scores'));
    expect(order.indexOf('events')).toBeGreaterThan(order.indexOf('feature_activations'));
    expect(order.filter((t) => t === 'events')).toHaveLength(1);
    await w.close();
  });

  it('a row quoting hostile text with a lone surrogate is stored (U+FFFD), not retried forever', async () => {
    const { client, inserted } = recordingClient();
    const w = new BatchWriter(client, { maxRows: 100, flushMs: 10, maxBackoffMs: 100 });
    await Promise.all([w.write('dead_letters', [{ tenant: 'ac\ud800me', reason: 'r' }]), w.write('dead_letters', [{ tenant: 'ok 😀', reason: 'r' }])]);
    expect(inserted).toEqual([{ tenant: 'ac\ufffdme', reason: 'r' }, { tenant: 'ok 😀', reason: 'r' }]);
    expect(w.stats.failures).toBe(0);
    await w.close();
  });

  it('flushSoon: rows that arrive just after the hint (still being redacted) are written at once, in one insert per table', async () => {
    const { client, inserted } = recordingClient();
    const w = new BatchWriter(client, { maxRows: 100, flushMs: 60_000, maxBackoffMs: 100 });
    w.flushSoon();
    await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await Promise.all([w.write('events', [{ id: 1 }]), w.write('concept_scores', [{ id: 1 }, { id: 2 }])]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(inserted).toHaveLength(3);
    expect(w.stats.inserts).toBe(2);
    // Outside the window the interval applies again.
    await new Promise((r) => setTimeout(r, 60));
    let done = false;
    const p = w.write('events', [{ id: 3 }]).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    await w.close();
    await p;
    expect(done).toBe(true);
  });
});
