/**
 * Parity on the real models: the Node runtime (tokenizers.js + chat template + ONNX Runtime in a
 * worker) against the builder's independent float64 numpy implementations (Llama, which keeps
 * llama.cpp's Q/K layout and pairwise RoPE unlike the ONNX graph; and Gemma 3, with its embedding
 * scale, q/k norms, four norms per block and a 512-token sliding window on five layers in six).
 * Two models: the default pack's (SmolLM2-135M) and the second family's (Gemma 3 270M, converted
 * by `npm test`). Tolerance: the largest absolute difference per conversation is below 1e-4 of the
 * largest reference magnitude, and every content token's residual has cosine similarity above 0.99999.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ChatTokenizer } from '../../../src/probe/chat-tokenizer';
import { ModelArtifacts } from '../../../src/probe/model-setup';
import { ResidualBatcher } from '../../../src/probe/residual-batcher';
import { realModel, secondModel, skipNote } from '../../support/real-model';

interface RefRow {
  id: string;
  ids: number[];
  roles: number[];
  hidden: number[][];
}

/** What a parity run needs of a converted model. */
interface Subject {
  artifacts: ModelArtifacts;
  projectRoot: string;
  layer: number;
  dModel: number;
  padId: number;
}

async function defaultModel(): Promise<Subject | string> {
  const env = await realModel();
  if (typeof env === 'string') return env;
  const m = env.pack.manifest;
  return { artifacts: env.artifacts, projectRoot: env.paths.projectRoot, layer: m.model.layer, dModel: m.model.d_model, padId: m.tokenizer.pad_token_id };
}

async function gemma(): Promise<Subject | string> {
  const env = await secondModel();
  if (typeof env === 'string') return env;
  const a = env.model.artifacts;
  // Gemma's padding token is `<pad>` (its own id in the vocabulary, not the end-of-text token)
  const tok = JSON.parse(readFileSync(a.tokenizerJsonPath, 'utf8')) as { added_tokens: { id: number; content: string }[] };
  const pad = tok.added_tokens.find((t) => t.content === '<pad>');
  if (!pad) throw new Error(`no <pad> token in ${a.tokenizerJsonPath}`);
  expect(env.model.architecture).toBe('gemma3');
  return { artifacts: a, projectRoot: env.paths.projectRoot, layer: env.model.layer, dModel: env.model.dModel, padId: pad.id };
}

const FIXTURE = path.join(__dirname, '..', '..', 'fixtures', 'conversations.jsonl');
jest.setTimeout(300_000);

describe.each([
  ['SmolLM2-135M (the default pack)', defaultModel],
  ['Gemma 3 270M (the second model family)', gemma],
])('real-model parity, %s (Node ONNX Runtime vs numpy reference)', (_label, load) => {
  let env: Subject | string;
  let ref: RefRow[] = [];
  beforeAll(async () => {
    env = await load();
    if (typeof env === 'string') return;
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'parity-')), 'ref.json');
    execFileSync(env.artifacts.python, ['-m', 'probe_builder', 'reference', '--model-dir', env.artifacts.dir,
      '--layer', String(env.layer), '--input', FIXTURE, '--out', out], {
      env: { ...process.env, PYTHONPATH: path.join(env.projectRoot, 'tools', 'probe-builder') },
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
    const d = env.dModel;
    const batcher = await ResidualBatcher.start({
      modelPath: env.artifacts.onnxPath, outputName: env.artifacts.outputName, dModel: d, padId: env.padId,
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
    const d = m.dModel;
    // Every fixture conversation back to back, twice over: one sequence of more than 600 tokens, so
    // Gemma's 512-token sliding window reaches back into the cache from later chunks.
    const once = ref.flatMap((r) => r.ids);
    const ids = once.length > 600 ? once : [...once, ...once, ...once].slice(0, Math.max(601, once.length));
    const start = (chunkTokens: number): Promise<ResidualBatcher> => ResidualBatcher.start({
      modelPath: m.artifacts.onnxPath, outputName: m.artifacts.outputName, dModel: d, padId: m.padId,
      executionProvider: 'cpu', workers: 1, intraOpThreads: 0, tokenBudget: 8192, maxWaitMs: 1, maxQueuedWindows: 8,
      kvHeads: m.artifacts.kvHeads, headDim: m.artifacts.headDim, chunkTokens,
    });
    const single = await start(8192);
    const chunked = await start(100);
    try {
      const [a, b] = [await single.run(ids), await chunked.run(ids)];
      expect(ids.length).toBeGreaterThan(600);
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
