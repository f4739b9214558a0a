/**
 * The batcher's priority lane (the inline guard) on real ONNX Runtime worker threads with the
 * tiny graph: priority windows go before queued work, without waiting for a batch to fill, and
 * are not refused by a full queue. Ordering is asserted, never a duration.
 */
import * as path from 'node:path';

import { BatcherOptions, ResidualBatcher } from '../../../src/probe/residual-batcher';

const MODEL = path.join(__dirname, '..', '..', 'fixtures', 'tiny-residual.onnx');
const opts = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  modelPath: MODEL, outputName: 'hidden_1', dModel: 4, padId: 0, executionProvider: 'cpu', workers: 1, kvHeads: 1, headDim: 4, chunkTokens: 512,
  intraOpThreads: 0, tokenBudget: 1000, maxWaitMs: 20, maxQueuedWindows: 100, ...o,
});
jest.setTimeout(60_000);

describe('residual batcher: priority lane', () => {
  it('dispatches a priority window at once, ahead of queued work still waiting for its batch to fill', async () => {
    // A long wait: the queued windows would sit there for a minute without the priority lane.
    const b = await ResidualBatcher.start(opts({ maxWaitMs: 60_000, maxQueuedWindows: 2 }));
    try {
      const done: string[] = [];
      const queued = [b.run([1]), b.run([2])];
      queued.forEach((p, i) => p.then(() => void done.push(`async-${i}`), () => undefined));
      // The queue is full for asynchronous work, not for the priority lane.
      const out = await b.run([3, 4], { priority: true });
      done.push('priority');
      expect(Array.from(out).map((v) => Math.round(v * 10) / 10)).toEqual([1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9]);
      expect(done).toEqual(['priority']);
      expect(b.stats.batches).toBe(1);
      expect(b.queued).toBe(2);
      await b.close();
      await expect(queued[0]).rejects.toThrow('batcher closed');
    } finally {
      await b.close();
    }
  });

  it('takes the next free worker before the backlog, in a batch of its own', async () => {
    const b = await ResidualBatcher.start(opts({ maxWaitMs: 0, tokenBudget: 4 }));
    try {
      const order: string[] = [];
      const track = (label: string, p: Promise<Float32Array>): Promise<void> => p.then(() => void order.push(label));
      // The first window takes the only worker; everything after it waits.
      const all = [track('a0', b.run([1]))];
      for (let i = 1; i <= 4; i++) all.push(track(`a${i}`, b.run([i, i])));
      all.push(track('guard', b.run([9, 9, 9], { priority: true })));
      await Promise.all(all);
      expect(order[0]).toBe('a0');
      expect(order[1]).toBe('guard');
      expect(b.stats.windows).toBe(6);
    } finally {
      await b.close();
    }
  });
});
