import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';

import { PACK_MANIFEST_SCHEMA, PackManifest, WeightFile } from './pack-manifest';
import { CONCEPT_IDS, ConceptId } from '../domain/concepts';

export class PackError extends Error {
  readonly code = 'PACK_INVALID';
  constructor(readonly packDir: string, readonly problems: string[]) {
    super(`probe pack ${packDir} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
}

/** A validated pack with its weights decoded, ready for scoring. */
export interface ProbePack {
  dir: string;
  manifest: PackManifest;
  /** Selected SAE encoder rows, [nFeatures, dModel] row-major. */
  encoder: Float32Array;
  encoderBias: Float32Array;
  thresholds: Float32Array;
  bDec: Float32Array;
  /** Per concept, the probe direction w (dModel) on the raw residual. */
  probes: Record<ConceptId, Float32Array>;
  /** Feature index -> row in `encoder`. */
  rowOf: Map<number, number>;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateManifest = ajv.compile(PACK_MANIFEST_SCHEMA);

async function readWeight(dir: string, name: string, w: WeightFile, problems: string[]): Promise<Float32Array> {
  const file = path.join(dir, w.file);
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    problems.push(`weights.${name}: file ${w.file} is missing`);
    return new Float32Array(0);
  }
  const digest = createHash('sha256').update(buf).digest('hex');
  if (digest !== w.sha256) problems.push(`weights.${name}: sha256 ${digest} does not match the manifest (${w.sha256})`);
  const expected = w.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== expected * 4) problems.push(`weights.${name}: ${buf.byteLength} bytes, expected ${expected * 4} for shape [${w.shape}]`);
  const out = new Float32Array(buf.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

function checkConsistency(m: PackManifest, problems: string[]): void {
  const d = m.model.d_model;
  const nf = m.features.length;
  const enc = m.weights['sae-encoder'];
  if (enc && (enc.shape[0] !== nf || enc.shape[1] !== d)) problems.push(`weights.sae-encoder: shape [${enc.shape}] but ${nf} features x d_model ${d}`);
  const known = new Set(m.features.map((f) => f.index));
  for (const c of CONCEPT_IDS) {
    const spec = m.concepts[c];
    for (const f of spec.features) if (!known.has(f.feature)) problems.push(`concepts.${c}.features: feature ${f.feature} is not in features[]`);
    const pw = m.weights[spec.probe.weights_file];
    if (!pw) problems.push(`concepts.${c}.probe.weights_file: ${spec.probe.weights_file} not in weights`);
    else if (pw.shape.length !== 1 || pw.shape[0] !== d) problems.push(`weights.${spec.probe.weights_file}: shape [${pw.shape}], expected [${d}]`);
  }
}

export async function loadProbePack(dir: string): Promise<ProbePack> {
  const manifestPath = path.join(dir, 'manifest.json');
  let raw: string;
  try {
    raw = await fs.readFile(manifestPath, 'utf8');
  } catch {
    throw new PackError(dir, [`${manifestPath} not found`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new PackError(dir, [`manifest.json is not valid JSON: ${(e as Error).message}`]);
  }
  if (!validateManifest(json)) {
    const problems = (validateManifest.errors ?? []).map((e) => `manifest${e.instancePath.replace(/\//g, '.')}: ${e.message}`);
    throw new PackError(dir, problems);
  }
  const m = json as unknown as PackManifest;
  const problems: string[] = [];
  checkConsistency(m, problems);
  const weights: Record<string, Float32Array> = {};
  for (const [name, w] of Object.entries(m.weights)) weights[name] = await readWeight(dir, name, w, problems);
  if (problems.length) throw new PackError(dir, problems);
  const probes = {} as ProbePack['probes'];
  for (const c of CONCEPT_IDS) probes[c] = weights[m.concepts[c].probe.weights_file];
  return {
    dir,
    manifest: m,
    encoder: weights['sae-encoder'],
    encoderBias: weights['sae-bias'],
    thresholds: weights['sae-threshold'],
    bDec: weights['b-dec'],
    probes,
    rowOf: new Map(m.features.map((f) => [f.index, f.row])),
  };
}
