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
});
