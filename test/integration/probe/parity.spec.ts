/**
 * Parity on the real model: the Node runtime (tokenizers.js + chat template + ONNX Runtime in a
 * worker) against the builder's independent float64 numpy implementation of Llama (which keeps
 * llama.cpp's Q/K layout and pairwise RoPE, unlike the ONNX graph). Tolerance: the largest
 * absolute difference per conversation is below 1e-4 of the largest reference magnitude, and
 * every content token's residual has cosine similarity above 0.99999.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ChatTokenizer } from '../../../src/probe/chat-tokenizer';
import { ResidualBatcher } from '../../../src/probe/residual-batcher';
import { realModel, RealModel, skipNote } from '../../support/real-model';

interface RefRow {
  id: string;
  ids: number[];
  roles: number[];
  hidden: number[][];
}

const FIXTURE = path.join(__dirname, '..', '..', 'fixtures', 'conversations.jsonl');
jest.setTimeout(300_000);

describe('real-model parity (Node ONNX Runtime vs numpy reference)', () => {
  let env: RealModel | string;
  let ref: RefRow[] = [];
  beforeAll(async () => {
    env = await realModel();
    if (typeof env === 'string') return;
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'parity-')), 'ref.json');
    execFileSync(env.artifacts.python, ['-m', 'probe_builder', 'reference', '--model-dir', env.artifacts.dir,
      '--layer', String(env.pack.manifest.model.layer), '--input', FIXTURE, '--out', out], {
      env: { ...process.env, PYTHONPATH: path.join(env.paths.projectRoot, 'tools', 'probe-builder') },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    ref = JSON.parse(readFileSync(out, 'utf8')) as RefRow[];
  });

  it('produces the same token ids and roles', () => {
    if (typeof env === 'string') return skipNote(env);
    const ct = new ChatTokenizer({
      tokenizerJson: JSON.parse(readFileSync(env.artifacts.tokenizerJsonPath, 'utf8')),
      config: JSON.parse(readFileSync(env.artifacts.tokenizerConfigPath, 'utf8')),
    });
    const lines = readFileSync(FIXTURE, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(ref).toHaveLength(lines.length);
    lines.forEach((row, i) => {
      const enc = ct.encode(row.messages);
      expect({ id: row.id, ids: enc.ids, roles: enc.roles }).toEqual({ id: ref[i].id, ids: ref[i].ids, roles: ref[i].roles });
    });
  });

  it('matches the reference residual stream at the pack layer', async () => {
    if (typeof env === 'string') return skipNote(env);
    const d = env.pack.manifest.model.d_model;
    const batcher = await ResidualBatcher.start({
      modelPath: env.artifacts.onnxPath, outputName: env.artifacts.outputName, dModel: d, padId: env.pack.manifest.tokenizer.pad_token_id,
      executionProvider: 'cpu', workers: 1, intraOpThreads: 0, tokenBudget: 4096, maxWaitMs: 200, maxQueuedWindows: 64,
      kvHeads: env.artifacts.kvHeads, headDim: env.artifacts.headDim, chunkTokens: 4096,
    });
    try {
      // All conversations in one padded batch, so padding and masking are exercised too.
      const hiddens = await Promise.all(ref.map((r) => batcher.run(r.ids)));
      expect(batcher.stats.batches).toBe(1);
      ref.forEach((r, i) => {
        let maxDiff = 0;
        let maxRef = 0;
        let minCos = 1;
        r.hidden.forEach((want, t) => {
          let dot = 0, na = 0, nb = 0;
          for (let j = 0; j < d; j++) {
            const got = hiddens[i][t * d + j];
            maxDiff = Math.max(maxDiff, Math.abs(got - want[j]));
            maxRef = Math.max(maxRef, Math.abs(want[j]));
            dot += got * want[j]; na += got * got; nb += want[j] * want[j];
          }
          if (r.roles[t] !== 0) minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
        });
        expect({ id: r.id, ok: maxDiff / maxRef < 1e-4 }).toEqual({ id: r.id, ok: true });
        expect(minCos).toBeGreaterThan(0.99999);
      });
    } finally {
      await batcher.close();
    }
  });

  it('reads a long conversation chunk by chunk through the key/value cache as one pass would', async () => {
    if (typeof env === 'string') return skipNote(env);
    const m = env;
    const d = m.pack.manifest.model.d_model;
    // Every fixture conversation back to back: one sequence of several hundred tokens.
    const ids = ref.flatMap((r) => r.ids);
    const start = (chunkTokens: number): Promise<ResidualBatcher> => ResidualBatcher.start({
      modelPath: m.artifacts.onnxPath, outputName: m.artifacts.outputName, dModel: d, padId: m.pack.manifest.tokenizer.pad_token_id,
      executionProvider: 'cpu', workers: 1, intraOpThreads: 0, tokenBudget: 8192, maxWaitMs: 1, maxQueuedWindows: 8,
      kvHeads: m.artifacts.kvHeads, headDim: m.artifacts.headDim, chunkTokens,
    });
    const single = await start(8192);
    const chunked = await start(100);
    try {
      const [a, b] = [await single.run(ids), await chunked.run(ids)];
      expect(ids.length).toBeGreaterThan(300);
      expect(chunked.stats.chunks).toBe(Math.ceil(ids.length / 100));
      expect(single.stats.chunks).toBe(0);
      expect(b).toHaveLength(a.length);
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        maxRef = Math.max(maxRef, Math.abs(a[i]));
      }
      expect(maxDiff / maxRef).toBeLessThan(1e-4);
      // The cache carries the context: the last chunk read on its own differs.
      const tail = ids.slice(Math.floor((ids.length - 1) / 100) * 100);
      const alone = await single.run(tail);
      const off = a.length - alone.length;
      let diff = 0;
      for (let i = 0; i < alone.length; i++) diff = Math.max(diff, Math.abs(alone[i] - a[off + i]));
      expect(diff / maxRef).toBeGreaterThan(1e-3);
    } finally {
      await single.close();
      await chunked.close();
    }
  });
});
