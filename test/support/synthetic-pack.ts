import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { CONCEPT_IDS } from '../../src/domain/concepts';

export const SYN_D = 4;

function f32(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

/**
 * A tiny, fully specified pack (d_model 4, two features) so scoring can be checked by hand.
 * Feature 10 reads dimension 0, feature 20 reads dimension 1 (unit decoder directions along
 * them). Every concept's probe is w = [0.5, 0.5, 0, 0], bias -0.5, Platt a = 2, c = -1, so both
 * features align with it by input_scale x 0.5 = 1; the concepts differ in scope and aggregation:
 * deception mean, sycophancy max, harmful_intent rolling window 4, prompt_injection rolling 1.
 */
export function writeSyntheticPack(dir: string, overrides: Record<string, unknown> = {}): string {
  mkdirSync(path.join(dir, 'weights'), { recursive: true });
  const arrays: Record<string, { shape: number[]; values: number[] }> = {
    'sae-encoder': { shape: [2, SYN_D], values: [1, 0, 0, 0, 0, 1, 0, 0] },
    'sae-bias': { shape: [2], values: [0, -0.5] },
    'sae-threshold': { shape: [2], values: [0.25, 0.25] },
    'b-dec': { shape: [SYN_D], values: [0, 0, 0, 0] },
  };
  for (const c of CONCEPT_IDS) arrays[`probe-${c}`] = { shape: [SYN_D], values: [0.5, 0.5, 0, 0] };
  const weights: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(arrays)) {
    const buf = f32(a.values);
    writeFileSync(path.join(dir, 'weights', `${name}.f32`), buf);
    weights[name] = { file: `weights/${name}.f32`, dtype: 'float32-le', shape: a.shape, sha256: createHash('sha256').update(buf).digest('hex') };
  }
  const concept = (c: string, roles: string[], aggregation: string, window: number, length?: number) => ({
    description: 'synthetic',
    roles,
    detector: 'dense',
    threshold: 0.6,
    probe: { weights_file: `probe-${c}`, bias: -0.5, aggregation, window, calibration: { method: 'platt', a: 2, c: -1, ...(length === undefined ? {} : { length }) } },
    features: [{ feature: 10, alignment: 1 }, { feature: 20, alignment: 1 }],
  });
  const concepts = {
    deception: concept('deception', ['assistant'], 'mean', 1),
    sycophancy: concept('sycophancy', ['assistant'], 'max', 1),
    harmful_intent: concept('harmful_intent', ['user'], 'rolling', 4, -0.25),
    prompt_injection: concept('prompt_injection', ['user', 'tool'], 'rolling', 1),
  };
  const manifest = {
    schema_version: 2,
    id: 'synthetic-pack',
    version: '0.0.1',
    model: { id: 'none', file_sha256: 'a'.repeat(64), layer: 1, d_model: SYN_D, source: { package: 'x', version: '0', file: 'x.gguf' } },
    tokenizer: { sha256: 'b'.repeat(64), chat_template_sha256: 'c'.repeat(64), pad_token_id: 0 },
    runtime: { context_tokens: 32, chunk_tokens: 8, outlier_norm: 100 },
    sae: { id: 'syn', architecture: 'batchtopk', input_scale: 2 },
    features: [
      { index: 10, row: 0, label: 'dimension zero' },
      { index: 20, row: 1, label: 'dimension one' },
    ],
    concepts,
    weights,
    ...overrides,
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return dir;
}

/**
 * One window of six tokens for the synthetic pack, with hand-computable scores (see
 * test/unit/probe/scoring.spec.ts). roles: template, user, user, assistant, assistant,
 * assistant (an attention-sink outlier); hidden: 6 tokens x d_model 4.
 */
export const SYNTHETIC_WINDOW = {
  roles: [0, 2, 2, 3, 3, 3],
  ids: [100, 101, 102, 103, 104, 105],
  hidden: (): Float32Array => Float32Array.from([9, 9, 0, 0, 2, 0, 0, 0, 0, 4, 0, 0, 1, 3, 0, 0, 0.4, 0, 0, 0, 200, 0, 0, 0]),
};
