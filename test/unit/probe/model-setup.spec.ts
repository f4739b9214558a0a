import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { RuntimePaths } from '../../../src/config/runtime-paths';
import { artifactDir, convertArgs, findModelArtifacts } from '../../../src/probe/model-setup';
import { loadProbePack } from '../../../src/probe/probe-pack.loader';
import { writeSyntheticPack } from '../../support/synthetic-pack';

describe('model artifacts are only used when they match the pack', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'setup-'));
  const paths: RuntimePaths = { dataDir: path.join(tmp, 'data'), projectRoot: tmp, probesDir: tmp, python: 'python3' };

  async function withInfo(info: Record<string, unknown>): Promise<unknown> {
    const pack = await loadProbePack(writeSyntheticPack(mkdtempSync(path.join(tmp, 'pack-'))));
    const dir = artifactDir(paths, pack.manifest);
    mkdirSync(dir, { recursive: true });
    for (const f of ['residual.onnx', 'tokenizer.json', 'tokenizer_config.json']) writeFileSync(path.join(dir, f), '{}');
    writeFileSync(path.join(dir, 'residual.json'), JSON.stringify({ onnx: 'residual.onnx', model_file: 'x.gguf', layers: [1], kv_cache: true,
      config: { n_heads: 9, n_kv_heads: 3, d_model: 576 }, ...info }));
    return findModelArtifacts(paths, pack.manifest);
  }

  it('accepts artifacts whose model, tokenizer and layer match', async () => {
    const a = await withInfo({ model_sha256: 'a'.repeat(64), tokenizer_sha256: 'b'.repeat(64) });
    expect(a).toEqual(expect.objectContaining({ outputName: 'hidden_1', kvHeads: 3, headDim: 64 }));
  });

  it.each([
    ['another model', { model_sha256: 'f'.repeat(64), tokenizer_sha256: 'b'.repeat(64) }],
    ['another tokenizer', { model_sha256: 'a'.repeat(64), tokenizer_sha256: 'f'.repeat(64) }],
    ['another layer', { model_sha256: 'a'.repeat(64), tokenizer_sha256: 'b'.repeat(64), layers: [2] }],
    ['a graph without the key/value cache', { model_sha256: 'a'.repeat(64), tokenizer_sha256: 'b'.repeat(64), kv_cache: false }],
    ['a Gemma graph without the key/value cache', { model_sha256: 'a'.repeat(64), tokenizer_sha256: 'b'.repeat(64), kv_cache: false, architecture: 'gemma3' }],
  ])('ignores artifacts built from %s', async (_name, info) => {
    expect(await withInfo(info)).toBeNull();
  });

  it("reads a Gemma graph's cache layout from its config (head size is not d_model / heads)", async () => {
    const a = await withInfo({ model_sha256: 'a'.repeat(64), tokenizer_sha256: 'b'.repeat(64), architecture: 'gemma3',
      config: { n_heads: 4, n_kv_heads: 1, d_model: 640, head_dim: 256 } });
    expect(a).toEqual(expect.objectContaining({ kvHeads: 1, headDim: 256 }));
  });

  it("converts the pack's own model: its builder_model, or SmolLM2 for packs before it was recorded", async () => {
    const pack = await loadProbePack(writeSyntheticPack(mkdtempSync(path.join(tmp, 'pack-'))));
    const args = (m: typeof pack.manifest): string[] => convertArgs(m, '/d', '/c');
    expect(args(pack.manifest).slice(-2)).toEqual(['--model', 'smollm2-135m']);
    const gemma = { ...pack.manifest, model: { ...pack.manifest.model, builder_model: 'gemma3-270m' } };
    expect(args(gemma)).toEqual(['-m', 'probe_builder', 'convert', '--out', '/d', '--cache', '/c', '--layers', String(pack.manifest.model.layer),
      '--name', 'residual.onnx', '--model', 'gemma3-270m']);
  });
});
