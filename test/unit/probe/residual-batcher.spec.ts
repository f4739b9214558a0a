/**
 * The dynamic batcher on real ONNX Runtime worker threads, with a tiny graph
 * (hidden = embedding[ids] * mask, d = 4) so every output can be predicted exactly.
 */
import * as path from 'node:path';

import { BatcherOptions, ExecutionProviderError, QueueFullError, ResidualBatcher } from '../../../src/probe/residual-batcher';

const MODEL = path.join(__dirname, '..', '..', 'fixtures', 'tiny-residual.onnx');
const opts = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  modelPath: MODEL, outputName: 'hidden_1', dModel: 4, padId: 0, executionProvider: 'cpu', workers: 1, kvHeads: 1, headDim: 4, chunkTokens: 512,
  intraOpThreads: 0, tokenBudget: 12, maxWaitMs: 20, maxQueuedWindows: 100, ...o,
});
const expected = (ids: number[]): number[] => ids.flatMap((id) => [0, 1, 2, 3].map((j) => (id * 4 + j) / 10));
jest.setTimeout(60_000);

describe('residual batcher (ONNX Runtime worker threads)', () => {
  it('returns each window its own unpadded rows, whatever batch it shared', async () => {
    const b = await ResidualBatcher.start(opts());
    try {
      const windows = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10], [11, 12, 13]];
      const outs = await Promise.all(windows.map((w) => b.run(w)));
      outs.forEach((o, i) => expect(Array.from(o).map((v) => Math.round(v * 10) / 10)).toEqual(expected(windows[i])));
      // Budget 12 tokens of padded batch: the 13 real tokens cannot fit one batch.
      expect(b.stats.batches).toBeGreaterThan(1);
      expect(b.stats.tokens).toBe(13);
      expect(b.stats.paddedTokens).toBeLessThanOrEqual(b.stats.batches * 12);
    } finally {
      await b.close();
    }
  });

  it('flushes a lone small window after maxWaitMs', async () => {
    const b = await ResidualBatcher.start(opts({ tokenBudget: 1000, maxWaitMs: 30 }));
    try {
      const t0 = Date.now();
      const o = await b.run([3]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
      expect(o).toHaveLength(4);
      expect(b.stats.batches).toBe(1);
    } finally {
      await b.close();
    }
  });

  it('refuses new windows when its queue is full instead of growing without bound', async () => {
    const b = await ResidualBatcher.start(opts({ tokenBudget: 1000, maxWaitMs: 200, maxQueuedWindows: 2 }));
    try {
      const first = [b.run([1]), b.run([2])];
      await expect(b.run([3])).rejects.toBeInstanceOf(QueueFullError);
      await Promise.all(first);
    } finally {
      await b.close();
    }
  });

  it('reports an execution provider that cannot load, by name', async () => {
    await expect(ResidualBatcher.start(opts({ executionProvider: 'cuda' }))).rejects.toBeInstanceOf(ExecutionProviderError);
    await expect(ResidualBatcher.start(opts({ executionProvider: 'cuda' }))).rejects.toThrow(/'cuda' could not start/);
  });

  it('rejects pending work on close', async () => {
    const b = await ResidualBatcher.start(opts({ tokenBudget: 1000, maxWaitMs: 10_000 }));
    const p = b.run([1, 2]).catch((e: Error) => e);
    await b.close();
    expect(await p).toEqual(new Error('batcher closed'));
  });
});
