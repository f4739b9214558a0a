/**
 * A "trivial" pack for measuring the pipeline's own ceiling and for delivery tests that need
 * throughput rather than detection quality: the default pack's files, but reading the residual
 * stream after transformer block 1 instead of block 18. Tokenizer, ONNX Runtime workers,
 * batching, SAE features, scoring, rules and storage all run exactly as in production; the model
 * work per token drops about 18-fold. Its scores mean nothing and it says so in its id.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export function writeTrivialPack(sourcePackDir: string, outDir: string, layer = 1): string {
  cpSync(sourcePackDir, outDir, { recursive: true });
  const file = path.join(outDir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as { id: string; version: string; model: { layer: number } };
  m.id = `${m.id}-trivial-l${layer}`;
  m.version = `${m.version}-trivial`;
  m.model.layer = layer;
  writeFileSync(file, JSON.stringify(m, null, 1));
  return outDir;
}
